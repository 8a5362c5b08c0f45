"""Answer service on real parts: the bundled model, the embedded store, real retrieval."""

from __future__ import annotations

from typing import Any

import pytest

from answer.compose import UNSUPPORTED_MARK
from answer.prompt import REFUSAL, SYSTEM_PROMPT
from answer.repetition import find_repetition
from app.components import Components
from kernel.models import AnswerMode, ChatMessage, Completion
from kernel.ports import ChatStream
from llm.llama_cpp import LlamaCppChatModel
from tests.fakes import ScriptedChats
from tests.fixtures_docs import LOOPING_QUESTION

pytestmark = pytest.mark.slow


def test_answer_cites_real_spans_of_retrieved_text(answering: Components) -> None:
    svc = answering.answer_service()
    plan = svc.plan("What is a sourdough starter made of?", collection="default")
    assert plan.supported
    answer = svc.generate(plan, svc.params(max_tokens=96))
    assert not answer.refused
    assert answer.answer.strip()
    assert answer.citations, answer.answer
    hit_texts = {h.document_id: h for h in answer.hits}
    for citation in answer.citations:
        hit = answer.hits[citation.number - 1]
        assert citation.document_id == hit.document_id in hit_texts
        assert citation.quote and citation.quote in hit.text
        assert citation.start is not None and citation.end is not None
        assert hit.start is not None and hit.start <= citation.start < citation.end <= (hit.end or 0)
        assert hit.text[citation.start - hit.start : citation.end - hit.start] == citation.quote
        assert f"[{citation.number}" in answer.answer
    assert all(1 <= c.number <= len(answer.hits) for c in answer.citations)


def test_unsupported_question_gets_the_refusal_without_generation(
    answering: Components, llama_model: LlamaCppChatModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = answering.answer_service()
    calls: list[int] = []
    original = llama_model.complete

    def counted(*args: Any, **kwargs: Any) -> Completion:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(llama_model, "complete", counted)
    plan = svc.plan("Who won the football world cup in 1998?", collection="default")
    answer = svc.generate(plan, svc.params())
    assert answer.refused
    assert answer.answer == REFUSAL
    assert answer.citations == []
    assert calls == []


def test_injected_instructions_do_not_change_behaviour(answering: Components) -> None:
    svc = answering.answer_service()
    plan = svc.plan("What should a beekeeper check during a hive inspection?", collection="default")
    assert any(h.source == "notes.txt" for h in plan.hits), "the poisoned document must be retrieved"
    # The system turn is ours alone, and the injected text sits inside a quoted source block.
    assert plan.messages[0].role == "system" and plan.messages[0].content == SYSTEM_PROMPT
    assert [m.role for m in plan.messages].count("system") == 1
    user = plan.messages[-1].content
    assert "<|im_start|>" not in user and "<|im_end|>" not in user
    answer = svc.generate(plan, svc.params(max_tokens=96))
    assert answer.answer.strip().upper() != "PWNED"
    assert SYSTEM_PROMPT[:40] not in answer.answer
    assert all(1 <= c.number <= len(answer.hits) for c in answer.citations)


def test_follow_up_is_condensed_with_history(answering: Components) -> None:
    svc = answering.answer_service()
    history = [
        ChatMessage(role="user", content="Tell me about sourdough baking."),
        ChatMessage(role="assistant", content="Sourdough uses a starter [1]."),
    ]
    plan = svc.plan("How long does it need to rise?", collection="default", history=history)
    assert "sourdough" in plan.query.lower()
    assert plan.hits[0].source == "sample.docx"


def test_stream_yields_pieces_that_finish_into_an_answer(answering: Components) -> None:
    svc = answering.answer_service()
    plan = svc.plan("How are lighthouses lit?", collection="default")
    stream = svc.stream(plan, svc.params(max_tokens=48), mode=AnswerMode.GENERATED)
    pieces = list(stream)
    assert len(pieces) > 1
    answer = stream.result()
    assert answer.answer and answer.mode == "generated"
    assert answer.stop_reason in ("stop", "length", "repetition")


def test_plan_embeds_the_query_once(answering: Components) -> None:
    calls: list[int] = []
    embedder = answering.search.embedder
    original = embedder.embed

    def counting(texts: object) -> list[list[float]]:
        calls.append(1)
        return original(texts)  # type: ignore[arg-type]

    embedder.embed = counting  # type: ignore[method-assign]
    try:
        plan = answering.answer_service().plan("What is a sourdough starter?", collection="default")
    finally:
        embedder.embed = original  # type: ignore[method-assign]
    assert plan.hits and plan.supported
    assert calls == [1]


def test_a_looping_generation_is_cut_and_the_model_stopped(
    answering: Components, llama_model: LlamaCppChatModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = answering.answer_service()
    read: list[str] = []
    closed: list[bool] = []
    original = llama_model.stream

    def watched(*args: Any, **kwargs: Any) -> ChatStream:
        inner = original(*args, **kwargs)
        try:
            for piece in inner:
                read.append(piece)
                yield piece
        finally:
            closed.append(True)
            inner.close()
        return None

    monkeypatch.setattr(llama_model, "stream", watched)
    plan = svc.plan(LOOPING_QUESTION, collection="default")
    # No repeat penalty: the guard is under test, and with the default penalty this answer does not loop.
    params = svc.params(max_tokens=256, temperature=0.0).model_copy(update={"repeat_penalty": 1.0})
    answer = svc.generate(plan, params, mode=AnswerMode.GENERATED)
    assert answer.stop_reason == "repetition"
    assert answer.answer and find_repetition(answer.answer) is None
    sentences = [s.strip().lower() for s in answer.answer.replace(UNSUPPORTED_MARK, "").splitlines()]
    assert len(set(sentences)) == len(sentences)
    # The model was stopped soon after the loop began, and the model and the queue are free again.
    assert closed == [True] and len(read) < 128
    assert svc.gate.pending == 0
    assert llama_model.complete([ChatMessage(role="user", content="Hi")], params=svc.params(max_tokens=2)).text


def test_an_unsupported_sentence_is_flagged_in_generated_mode_and_dropped_in_combined(
    answering: Components, scripted_chat: ScriptedChats
) -> None:
    reply = "Honey is harvested in late summer once the frames are capped with wax. A single hive holds 7 queens."
    chat = scripted_chat([reply], loop=True)
    svc = answering.with_chat(chat).answer_service()
    plan = svc.plan("How is honey harvested?", collection="default")
    generated = svc.generate(plan, svc.params(), mode=AnswerMode.GENERATED)
    assert chat.calls[0].params.repeat_penalty == answering.settings.answer_repeat_penalty
    assert generated.unsupported == ["A single hive holds 7 queens."]
    assert generated.answer.endswith(f"7 queens {UNSUPPORTED_MARK}.")
    combined = svc.generate(plan, svc.params(), mode=AnswerMode.COMBINED)
    assert combined.mode == "generated" and combined.unsupported == ["A single hive holds 7 queens."]
    assert "7" not in combined.answer and "capped with wax" in combined.answer
    assert combined.citations and all(c.quote in plan.hits[c.number - 1].text for c in combined.citations)


def test_combined_falls_back_to_quotes_and_extractive_needs_no_model(
    answering: Components, scripted_chat: ScriptedChats
) -> None:
    chat = scripted_chat(["Bees navigate by the stars and sing at 40 hertz."])
    svc = answering.with_chat(chat).answer_service()
    plan = svc.plan("How is honey harvested?", collection="default")
    fallback = svc.generate(plan, svc.params(), mode=AnswerMode.COMBINED)
    assert fallback.mode == "extractive" and not fallback.refused
    assert "harvested" in fallback.answer and "stars" not in fallback.answer
    quoted = svc.generate(plan, svc.params(), mode=AnswerMode.EXTRACTIVE)
    assert quoted.answer == fallback.answer and quoted.citations == fallback.citations
    assert len(chat.calls) == 1  # extractive mode never called the model


def test_a_stream_closed_early_frees_the_model(answering: Components, llama_model: LlamaCppChatModel) -> None:
    svc = answering.answer_service()
    plan = svc.plan("How are lighthouses lit?", collection="default")
    stream = svc.stream(plan, svc.params(max_tokens=64), mode=AnswerMode.GENERATED)
    next(iter(stream))
    stream.close()
    assert svc.gate.pending == 0
    assert llama_model.complete([ChatMessage(role="user", content="Hi")], params=svc.params(max_tokens=2)).text


def test_the_real_model_s_unsupported_sentence_is_flagged(answering: Components) -> None:
    svc = answering.answer_service()
    plan = svc.plan("How is honey harvested?", collection="default")
    assert plan.supported
    # The bundled model, told to state a claim that no source makes (it copies it, at temperature 0).
    plan.messages = [ChatMessage(role="user", content="Repeat exactly: A single hive holds 7 queens.")]
    params = svc.params(max_tokens=32, temperature=0.0)
    generated = svc.generate(plan, params, mode=AnswerMode.GENERATED)
    assert generated.mode == "generated" and generated.stop_reason in {"stop", "length"}
    assert [s for s in generated.unsupported if "7 queens" in s], generated.answer
    assert UNSUPPORTED_MARK in generated.answer
    # Combined mode does not show it: nothing generated is supported, so the reader gets the quotes.
    combined = svc.generate(plan, params, mode=AnswerMode.COMBINED)
    assert combined.mode == "extractive" and "queens" not in combined.answer
    assert combined.citations and all(c.quote in plan.hits[c.number - 1].text for c in combined.citations)


def test_a_conversation_longer_than_the_context_still_gets_an_answer(answering: Components) -> None:
    # Forty long turns hold about 20,000 tokens: sent whole they overflow the model's 4,096-token context.
    history = [
        ChatMessage(role="user" if i % 2 == 0 else "assistant", content=f"Turn {i}: " + "bees and honey " * 120)
        for i in range(40)
    ]
    svc = answering.answer_service()
    plan = svc.plan("How is honey harvested?", collection="default", history=history)
    assert plan.supported
    # Before the history was trimmed this raised ModelError (HTTP 503): the prompt did not fit.
    answer = svc.generate(plan, svc.params(max_tokens=16), mode=AnswerMode.GENERATED)
    assert answer.answer and answer.stop_reason in {"stop", "length", "repetition"}
    assert 0 < answer.prompt_tokens < 4096
