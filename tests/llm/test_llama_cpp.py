"""LlamaCppChatModel against the real bundled SmolLM2 GGUF: generation, streaming, schema, limits, locking."""

from __future__ import annotations

from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kernel.errors import ConfigError, ModelError
from kernel.models import ChatMessage, Completion, GenerationParams
from kernel.settings import ChatModelSettings
from llm.factory import create_chat_model
from llm.json_repair import parse_json_object
from llm.llama_cpp import LlamaCppChatModel, bundled_gguf_path
from tests.conftest import LLAMA_CONTEXT_TOKENS

pytestmark = pytest.mark.slow

QUESTION = [ChatMessage(role="user", content="Name a city and its country.")]
#: Generous bound for a generation that waits on a stalled reader's stream (it waited forever before the fix).
STALL_TIMEOUT_S = 120
CITY_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1, "maxLength": 40},
        "country": {"type": "string", "minLength": 1, "maxLength": 40},
    },
    "required": ["city", "country"],
    "additionalProperties": False,
}


def test_model_id_names_file_size_and_how_it_computes(
    llama_model: LlamaCppChatModel, llama_teacher: LlamaCppChatModel
) -> None:
    path = bundled_gguf_path()
    stored = f"llama-cpp:{path.name}:{path.stat().st_size}"
    # The answer model runs the file as stored by default, the teacher in widened weights where the CPU has them.
    assert llama_model.weights == "file"
    assert llama_model.model_id == stored
    widened = "" if llama_teacher.weights == "file" else f":{llama_teacher.weights}"
    assert llama_teacher.model_id == f"{stored}{widened}:flash"


def test_complete_returns_text_and_usage(llama_model: LlamaCppChatModel) -> None:
    result = llama_model.complete(QUESTION, params=GenerationParams(max_tokens=32))
    assert result.text.strip()
    assert result.finish_reason in {"stop", "length"}
    assert result.completion_tokens > 0
    # The adapter's own count (used for the overflow check) matches what llama.cpp evaluated.
    assert result.prompt_tokens == llama_model.count_prompt_tokens(QUESTION)


def test_same_prompt_same_reply(llama_model: LlamaCppChatModel) -> None:
    params = GenerationParams(max_tokens=16, temperature=0.7)
    first = llama_model.complete(QUESTION, params=params)
    assert llama_model.complete(QUESTION, params=params).text == first.text


def test_stream_yields_pieces(llama_model: LlamaCppChatModel) -> None:
    pieces = list(llama_model.stream(QUESTION, params=GenerationParams(max_tokens=16)))
    assert len(pieces) > 1
    assert "".join(pieces).strip()


def test_stream_returns_the_whole_completion(llama_model: LlamaCppChatModel) -> None:
    stream = llama_model.stream(QUESTION, params=GenerationParams(max_tokens=6, temperature=0.0))
    pieces: list[str] = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as end:
            completion = end.value
            break
    assert completion.text == "".join(pieces)
    assert completion.finish_reason == "length"
    assert completion.prompt_tokens == llama_model.count_prompt_tokens(QUESTION)
    assert completion.completion_tokens == 6


def test_abandoned_stream_releases_the_model(llama_model: LlamaCppChatModel) -> None:
    stream = llama_model.stream(QUESTION, params=GenerationParams(max_tokens=32))
    assert isinstance(stream, Generator)
    next(stream)
    stream.close()
    assert llama_model.complete(QUESTION, params=GenerationParams(max_tokens=4)).text


def test_a_reader_that_stops_reading_does_not_hold_the_model(llama_model: LlamaCppChatModel) -> None:
    # Hardening issue, finding 4: the lock was held across yield, so an open stream nobody read blocked
    # every other generation (answers, synthesis) until it was closed.
    stream = llama_model.stream(QUESTION, params=GenerationParams(max_tokens=64))
    next(stream)  # one piece read, then the reader stalls with the stream still open
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        other = pool.submit(llama_model.complete, QUESTION, params=GenerationParams(max_tokens=4))
        assert other.result(timeout=STALL_TIMEOUT_S).text
    finally:
        stream.close()
        pool.shutdown()


def test_schema_output_parses_into_schema_keys(llama_model: LlamaCppChatModel) -> None:
    result = llama_model.complete(QUESTION, params=GenerationParams(max_tokens=64), schema=CITY_SCHEMA)
    parsed = parse_json_object(result.text)
    assert set(parsed) == {"city", "country"}
    assert all(isinstance(value, str) and value for value in parsed.values())


def test_tiny_max_tokens_reports_length(llama_model: LlamaCppChatModel) -> None:
    result = llama_model.complete(QUESTION, params=GenerationParams(max_tokens=2))
    assert result.finish_reason == "length"
    assert result.completion_tokens == 2


def test_prompt_longer_than_context_is_a_model_error(llama_model: LlamaCppChatModel) -> None:
    words = "lighthouse " * (LLAMA_CONTEXT_TOKENS + 100)
    messages = [ChatMessage(role="user", content=words)]
    with pytest.raises(ModelError, match="context window"):
        llama_model.complete(messages, params=GenerationParams(max_tokens=16))
    # Raised when stream() is called, before anyone iterates.
    with pytest.raises(ModelError, match="context window"):
        llama_model.stream(messages, params=GenerationParams(max_tokens=16))


def test_concurrent_calls_are_serialized(llama_model: LlamaCppChatModel) -> None:
    params = GenerationParams(max_tokens=16)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(llama_model.complete, QUESTION, params=params) for _ in range(2)]
        results: list[Completion] = [f.result(timeout=60) for f in futures]
    assert all(r.text.strip() for r in results)
    # Interleaved decoding on one KV cache would garble at least one of the two.
    assert results[0].text == results[1].text


def test_count_tokens(llama_model: LlamaCppChatModel) -> None:
    assert llama_model.count_tokens("") == 0
    assert 0 < llama_model.count_tokens("The lighthouse keeper") <= 5


def test_missing_and_invalid_files_are_config_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError, match=str(missing)):
        LlamaCppChatModel(missing, threads=1, context_tokens=256)
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model at all")
    with pytest.raises(ConfigError, match="not a GGUF"):
        LlamaCppChatModel(fake, threads=1, context_tokens=256)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(bundled_gguf_path().read_bytes()[:4096])
    with pytest.raises(ConfigError, match=str(truncated)):
        LlamaCppChatModel(truncated, threads=1, context_tokens=256)


def test_factory_defaults_to_the_bundled_model() -> None:
    model = create_chat_model(ChatModelSettings(threads=2, context_tokens=512))
    assert isinstance(model, LlamaCppChatModel)
    assert model.model_id.startswith("llama-cpp:SmolLM2-135M-Instruct.Q4_1.gguf:")


def test_factory_with_a_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        create_chat_model(ChatModelSettings(model_path=str(tmp_path / "x.gguf")))
