"""TeacherGenerator.chunk_notes_many: cache hits, batches through complete_many, failed items retried one by one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kernel.errors import ModelError
from kernel.ports import BatchChatModel
from knowledge.cache import GenerationCache
from knowledge.generate import RETRY_TEMPERATURE, TeacherGenerator
from tests.fakes import ScriptedBatchChat, ScriptedChat

GOOD = """K: honey bees; hive
S: Bees keep the hive at 35 degrees Celsius.
Q: At what temperature do bees keep the hive? | A: about 35 degrees Celsius
R: bees hive temperature"""
CHUNKS = [f"Chunk {i}: honey bees keep their hive at about 35 degrees Celsius." for i in range(5)]


def _generator(model: Any, tmp_path: Path, **kwargs: Any) -> TeacherGenerator:
    return TeacherGenerator(
        model, GenerationCache.open(tmp_path), questions=2, sleep=lambda _s: None, chunk_prompt="chunk.v2", **kwargs
    )


def test_batches_of_batch_size_greedy_and_progress_per_chunk(tmp_path: Path) -> None:
    model = ScriptedBatchChat([GOOD], loop=True)
    assert isinstance(model, BatchChatModel)
    progress: list[int] = []
    results = _generator(model, tmp_path, batch_size=2).chunk_notes_many(CHUNKS, on_done=progress.append)
    assert model.batches == [2, 2, 1]
    assert all(r.notes is not None and r.attempts == 1 for r in results)
    assert results[0].notes is not None and results[0].notes.queries == ["bees hive temperature"]
    assert progress == [1, 2, 3, 4, 5]
    assert {call.params.temperature for call in model.calls} == {0.0}
    assert all(call.schema is None for call in model.calls)  # the compact prompt needs no grammar
    assert [CHUNKS[i] in model.calls[i].messages[1].content for i in range(5)] == [True] * 5


def test_cached_chunks_are_not_sent_again(tmp_path: Path) -> None:
    _generator(ScriptedBatchChat([GOOD], loop=True), tmp_path).chunk_notes_many(CHUNKS[:2])
    model = ScriptedBatchChat([GOOD], loop=True)
    results = _generator(model, tmp_path).chunk_notes_many(CHUNKS[:3])
    assert [r.cached for r in results] == [True, True, False]
    assert model.batches == [1] and len(model.calls) == 1


def test_invalid_items_of_a_batch_are_retried_alone_at_retry_temperature(tmp_path: Path) -> None:
    model = ScriptedBatchChat([GOOD, "rambling without tags", GOOD, GOOD])
    results = _generator(model, tmp_path).chunk_notes_many(CHUNKS[:3])
    assert model.batches == [3]
    assert [r.attempts for r in results] == [1, 2, 1]
    assert all(r.notes is not None for r in results)
    retry = model.calls[3]
    assert retry.params.temperature == RETRY_TEMPERATURE and CHUNKS[1] in retry.prompt


def test_a_failed_batch_falls_back_to_single_attempts(tmp_path: Path) -> None:
    model = ScriptedBatchChat(["garbage", GOOD], batch_error=ModelError("batch too large"))
    results = _generator(model, tmp_path).chunk_notes_many(CHUNKS[:2])
    assert model.batches == [1 + 1]
    # Attempt 1 was the failed batch; attempt 2 for each chunk, one by one.
    assert results[0].notes is None and results[0].attempts == 2
    assert results[0].error is not None and "invalid output" in results[0].error
    assert results[1].notes is not None and results[1].attempts == 2


def test_a_model_without_complete_many_is_called_one_by_one(tmp_path: Path) -> None:
    model = ScriptedChat([GOOD], loop=True)
    results = _generator(model, tmp_path).chunk_notes_many(CHUNKS[:3])
    assert all(r.notes is not None for r in results) and len(model.calls) == 3


def test_json_prompt_is_batched_under_its_schema(tmp_path: Path) -> None:
    reply = '{"keywords": ["bees"], "summary": "Bees keep warm.", "questions": [{"question": "How warm is it?", "answer": "35"}]}'
    model = ScriptedBatchChat([reply], loop=True)
    generator = TeacherGenerator(model, GenerationCache.open(tmp_path), questions=2, chunk_prompt="chunk.v1")
    assert all(r.notes is not None for r in generator.chunk_notes_many(CHUNKS[:2]))
    assert model.batches == [2] and all(call.schema is not None for call in model.calls)
