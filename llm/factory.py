"""Build the ChatModel a ChatModelSettings group asks for (llama.cpp in-process or OpenAI-compatible HTTP)."""

from __future__ import annotations

from pathlib import Path

from kernel.errors import ConfigError
from kernel.ports import ChatModel
from kernel.settings import ChatModelSettings
from llm.llama_cpp import LlamaCppChatModel, bundled_gguf_path
from llm.openai_compat import OpenAIChatModel


def create_chat_model(cfg: ChatModelSettings) -> ChatModel:
    """Create the chat model for ``cfg.backend``; an empty llama-cpp ``model_path`` means the bundled SmolLM2.

    Raises:
        ConfigError: unknown backend, missing package or model file.
    """
    if cfg.backend == "llama-cpp":
        path = Path(cfg.model_path).expanduser() if cfg.model_path else bundled_gguf_path()
        return LlamaCppChatModel(path, threads=cfg.threads, context_tokens=cfg.context_tokens)
    if cfg.backend == "openai":
        return OpenAIChatModel(
            cfg.base_url,
            api_key=cfg.api_key.get_secret_value() if cfg.api_key else None,
            model_name=cfg.model_name,
            timeout_s=cfg.timeout_s,
            max_concurrency=cfg.max_concurrency,
        )
    raise ConfigError(f"unknown chat model backend {cfg.backend!r} (expected 'llama-cpp' or 'openai')")
