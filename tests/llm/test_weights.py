"""Widened weights: which weights a setting runs, the cached conversion, and the adapter loading it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import llama_cpp
import pytest

from kernel.errors import ConfigError
from kernel.models import ChatMessage, GenerationParams
from kernel.settings import ChatModelSettings
from llm.factory import for_role
from llm.llama_cpp import LlamaCppChatModel, bundled_gguf_path
from llm.weights import AUTO_MAX_BYTES, compute_file, converted, converted_name, resolve

BF16_CPU = "CPU : AVX2 = 1 | AVX512 = 1 | AVX512_BF16 = 1 |"
PLAIN_CPU = "CPU : AVX2 = 1 | AVX512 = 1 | AVX512_BF16 = 0 |"
QUESTION = [ChatMessage(role="user", content="Name a city and its country.")]


def test_auto_widens_small_models_on_cpus_with_bf16_only() -> None:
    small = 100 * 1024 * 1024
    assert resolve("auto", BF16_CPU, file_bytes=small) == "bf16"
    assert resolve("auto", PLAIN_CPU, file_bytes=small) == "file"
    assert resolve("auto", BF16_CPU, file_bytes=AUTO_MAX_BYTES + 1) == "file"


def test_explicit_weights_are_taken_as_asked() -> None:
    assert resolve("f16", PLAIN_CPU, file_bytes=10**10) == "f16"
    assert resolve("bf16", PLAIN_CPU, file_bytes=1) == "bf16"
    assert resolve("file", BF16_CPU, file_bytes=1) == "file"
    with pytest.raises(ConfigError, match="unknown weights 'q2'"):
        resolve("q2", BF16_CPU, file_bytes=1)


def test_a_changed_source_or_build_gets_a_new_name(tmp_path: Path) -> None:
    source = tmp_path / "m.Q4_1.gguf"
    source.write_bytes(b"GGUF one")
    first = converted_name(source, "bf16", "0.3.36")
    assert first.startswith("m.Q4_1.bf16.") and first.endswith(".gguf")
    assert converted_name(source, "bf16", "0.3.36") == first
    assert converted_name(source, "f16", "0.3.36") != first
    assert converted_name(source, "bf16", "0.3.37") != first
    source.write_bytes(b"GGUF two, longer")
    assert converted_name(source, "bf16", "0.3.36") != first


@pytest.mark.slow
def test_conversion_runs_once_and_the_model_answers_from_it(tmp_path: Path) -> None:
    source = bundled_gguf_path()
    target = converted(llama_cpp, source, "bf16", tmp_path)
    assert target.parent == tmp_path
    assert target.read_bytes()[:4] == b"GGUF"
    # bf16 holds 2 bytes a weight where Q4_1 holds ~0.6.
    assert target.stat().st_size > 2 * source.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no partial file left
    stamp = target.stat().st_mtime_ns
    assert converted(llama_cpp, source, "bf16", tmp_path) == target
    assert target.stat().st_mtime_ns == stamp

    model = LlamaCppChatModel(source, threads=2, context_tokens=512, weights="bf16", weights_dir=tmp_path)
    assert model.weights == "bf16"
    assert model.model_id.endswith(":bf16")
    reply = model.complete(QUESTION, params=GenerationParams(max_tokens=16))
    assert reply.text.strip() and reply.completion_tokens > 0


def test_an_unwritable_folder_falls_back_for_auto_and_fails_for_explicit_weights(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folder = blocker / "models"
    source = bundled_gguf_path()
    with pytest.raises(ConfigError, match="cannot write converted weights"):
        compute_file(llama_cpp, source, "bf16", folder)
    info = llama_cpp.llama_print_system_info().decode()
    with caplog.at_level(logging.WARNING, logger="llm.weights"):
        path, weights = compute_file(llama_cpp, source, "auto", folder)
    assert (path, weights) == (source, "file")
    if "AVX512_BF16 = 1" in info:  # only then does auto try to convert
        assert "running SmolLM2-135M-Instruct.Q4_1.gguf as stored" in caplog.text


def test_a_file_llama_cpp_cannot_convert_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "truncated.gguf"
    broken.write_bytes(bundled_gguf_path().read_bytes()[:4096])
    with pytest.raises(ConfigError, match=r"could not convert truncated\.gguf"):
        converted(llama_cpp, broken, "bf16", tmp_path / "models")
    assert not any(p.name.endswith(".part") for p in (tmp_path / "models").iterdir())
    assert os.listdir(tmp_path / "models") == []


def test_defaults_speed_up_the_teacher_only() -> None:
    defaults = ChatModelSettings()
    answers, teacher = for_role(defaults, "answers"), for_role(defaults, "teacher")
    assert (answers.weights, answers.flash_attention) == ("file", False)
    assert (teacher.weights, teacher.flash_attention) == ("auto", True)
    asked = ChatModelSettings(weights="bf16", flash_attention=True)
    assert for_role(asked, "answers") == asked
    assert for_role(asked, "teacher") == asked
    off = ChatModelSettings(flash_attention=False)
    assert for_role(off, "teacher").flash_attention is False
    remote = ChatModelSettings(backend="openai", base_url="http://gpu-box:8000/v1", model_name="m")
    assert for_role(remote, "answers") == for_role(remote, "teacher") == remote
