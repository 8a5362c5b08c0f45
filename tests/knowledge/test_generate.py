"""TeacherGenerator: schema, validation, repair, bounded retries, cache (scripted model for the logic; real GGUF too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kernel.errors import ModelError
from kernel.models import ChatMessage, GenerationParams
from knowledge.cache import GenerationCache, open_synth_db
from knowledge.generate import TeacherGenerator
from llm.llama_cpp import LlamaCppChatModel
from tests.fakes import CountingChat, ScriptedChat

CHUNK = (
    "Honey bees keep their hive at about 35 degrees Celsius. Worker bees fan their wings to cool the brood "
    "and cluster together to warm it in winter. A colony can hold 60,000 workers in summer."
)
GOOD = {
    "keywords": ["honey bees", "hive"],
    "summary": "Bees keep the hive at 35 degrees Celsius.",
    "questions": [{"question": "At what temperature do bees keep the hive?", "answer": "about 35 degrees Celsius"}],
}


def _cached_generations(data_dir: Path) -> int:
    """Rows in the generation cache's table."""
    return int(open_synth_db(data_dir).read().execute("SELECT COUNT(*) FROM generations").fetchone()[0])


def _generator(model: Any, tmp_path: Path, **kwargs: Any) -> TeacherGenerator:
    return TeacherGenerator(model, GenerationCache.open(tmp_path), questions=2, sleep=lambda _s: None, **kwargs)


def test_valid_output_is_parsed_with_schema_and_greedy_first_attempt(tmp_path: Path) -> None:
    model = ScriptedChat([json.dumps(GOOD)])
    result = _generator(model, tmp_path).chunk_notes(CHUNK)
    assert result.notes is not None and result.notes.summary == GOOD["summary"]
    assert not result.repaired and result.attempts == 1
    call = model.calls[0]
    assert call.params.temperature == 0.0
    assert call.schema is not None
    assert call.schema["properties"]["questions"]["maxItems"] == 2
    assert CHUNK in call.messages[1].content


def test_truncated_json_with_raw_newline_is_repaired(tmp_path: Path) -> None:
    cut = '{"keywords": ["honey bees"], "summary": "Bees keep\nthe hive warm.", "questions": [{"question": "How warm is the hive kept?", "answer": "35 degrees"}, {"question": "How many wo'
    result = _generator(ScriptedChat([cut]), tmp_path).chunk_notes(CHUNK)
    assert result.notes is not None and result.repaired
    assert result.notes.summary == "Bees keep the hive warm."
    assert [q.answer for q in result.notes.questions] == ["35 degrees"]


def test_over_long_strings_and_extra_items_are_clipped(tmp_path: Path) -> None:
    noisy = {**GOOD, "keywords": ["k" * 100, "hive", "hive", "x"], "extra": 1}
    result = _generator(ScriptedChat([json.dumps(noisy)]), tmp_path).chunk_notes(CHUNK)
    assert result.notes is not None and result.repaired
    assert result.notes.keywords == ["k" * 24, "hive"]


def test_invalid_output_is_retried_then_counted_as_failed(tmp_path: Path) -> None:
    model = ScriptedChat(["not json at all", '{"keywords": [], "summary": "", "questions": []}'])
    result = _generator(model, tmp_path).chunk_notes(CHUNK)
    assert result.notes is None
    assert result.attempts == 2 and len(model.calls) == 2
    assert result.error is not None and "invalid output" in result.error
    assert model.calls[1].params.temperature > 0  # a retry must be able to differ


def test_transport_errors_back_off_and_a_later_attempt_can_succeed(tmp_path: Path) -> None:
    sleeps: list[float] = []
    model = ScriptedChat([ModelError("timed out"), ModelError("timed out"), json.dumps(GOOD)])
    generator = TeacherGenerator(
        model, GenerationCache.open(tmp_path), questions=2, max_attempts=3, backoff_s=0.5, sleep=sleeps.append
    )
    result = generator.chunk_notes(CHUNK)
    assert result.notes is not None and result.attempts == 3
    assert sleeps == [0.5, 1.0]


def test_cache_prevents_a_second_generation_until_teacher_or_prompt_changes(tmp_path: Path) -> None:
    model = ScriptedChat([json.dumps(GOOD)])
    first = _generator(model, tmp_path).chunk_notes(CHUNK)
    again = _generator(model, tmp_path).chunk_notes(CHUNK)
    assert again.cached and again.notes == first.notes
    assert len(model.calls) == 1
    other_teacher = ScriptedChat([json.dumps(GOOD)], model_id="another-teacher")
    assert not _generator(other_teacher, tmp_path).chunk_notes(CHUNK).cached
    more_questions = ScriptedChat([json.dumps(GOOD)])
    generator = TeacherGenerator(more_questions, GenerationCache.open(tmp_path), questions=3)
    assert not generator.chunk_notes(CHUNK).cached
    assert len(more_questions.calls) == 1


def test_failures_are_not_cached(tmp_path: Path) -> None:
    model = ScriptedChat(["garbage", "garbage", json.dumps(GOOD)])
    assert _generator(model, tmp_path).chunk_notes(CHUNK).notes is None
    assert _generator(model, tmp_path).chunk_notes(CHUNK).notes is not None
    assert _cached_generations(tmp_path) == 1


def test_document_notes_normalize_unknown_type(tmp_path: Path) -> None:
    reply = {
        "title": "Bees",
        "type": "Field Guide",
        "summary": "How bees regulate hive heat.",
        "entities": ["Apis"],
        "dates": [],
    }
    result = _generator(ScriptedChat([json.dumps(reply)]), tmp_path).document_notes("Bees", ["Hive heat."], ["bees"])
    assert result.notes is not None and result.notes.type == "other"


def test_real_bundled_gguf_writes_valid_notes_once(counting_chat: CountingChat, tmp_path: Path) -> None:
    counting = counting_chat
    generator = TeacherGenerator(counting, GenerationCache.open(tmp_path), questions=2)
    first = generator.chunk_notes(CHUNK)
    assert first.notes is not None, first.error
    assert 1 <= len(first.notes.questions) <= 2
    assert first.completion_tokens > 0 and counting.calls >= 1
    calls = counting.calls
    second = generator.chunk_notes(CHUNK)
    assert second.cached and second.notes == first.notes
    assert counting.calls == calls


def test_real_model_output_cut_at_max_tokens_is_repaired_or_failed(
    llama_model: LlamaCppChatModel, tmp_path: Path
) -> None:
    """A generation truncated by the token limit never escapes as an exception or unvalidated data."""
    generator = TeacherGenerator(llama_model, GenerationCache.open(tmp_path), questions=2, max_attempts=1)
    text = llama_model.complete(
        [ChatMessage(role="user", content=f"Passage:\n{CHUNK}")],
        params=GenerationParams(max_tokens=12, temperature=0.0),
        schema={"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]},
    )
    assert text.finish_reason == "length"
    # The real model with a token limit too small for the notes: every reply is cut.
    tight = CountingChat(llama_model, model_id=f"{llama_model.model_id}:tight", max_tokens=24)
    result = TeacherGenerator(tight, GenerationCache.open(tmp_path / "t"), questions=2, max_attempts=2).chunk_notes(
        CHUNK
    )
    assert tight.finish_reasons and set(tight.finish_reasons) == {"length"}
    if result.notes is None:
        assert result.error is not None and result.attempts == 2
    else:
        assert result.repaired
    assert generator.model_id == llama_model.model_id
