"""Fixtures: the bundled SmolLM2 GGUF loaded once per session through the real llama.cpp adapter."""

from __future__ import annotations

import pytest

from synth.llm.llama_cpp import LlamaCppChatModel, bundled_gguf_path


@pytest.fixture(scope="session")
def llama_model() -> LlamaCppChatModel:
    """The real bundled model (~0.2 s to load, ~250 MB); 2 threads like the CI machines."""
    return LlamaCppChatModel(bundled_gguf_path(), threads=2, context_tokens=2048)
