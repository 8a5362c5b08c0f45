"""Answer service on real parts: the bundled model, the embedded store, real retrieval."""

from __future__ import annotations

from typing import Any

import pytest

from answer.prompt import REFUSAL, SYSTEM_PROMPT
from app.components import Components
from kernel.models import ChatMessage, Completion
from llm.llama_cpp import LlamaCppChatModel

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
    from answer.service import finish

    svc = answering.answer_service()
    plan = svc.plan("How are lighthouses lit?", collection="default")
    pieces = list(svc.stream(plan, svc.params(max_tokens=48)))
    assert len(pieces) > 1
    answer = finish(plan, "".join(pieces))
    assert answer.answer


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
