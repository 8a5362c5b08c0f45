"""Build the ChatModel a ChatModelSettings group asks for (llama.cpp in-process or OpenAI-compatible HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from kernel.errors import ConfigError
from kernel.ports import ChatModel
from kernel.settings import ChatModelSettings
from llm.llama_cpp import LlamaCppChatModel, bundled_gguf_path
from llm.openai_compat import OpenAIChatModel
from llm.weights import AS_STORED, folder_setting

#: What a chat model is for: writing answers, or synthetic knowledge at ingest.
Role = Literal["answers", "teacher"]


def for_role(cfg: ChatModelSettings, role: Role) -> ChatModelSettings:
    """``cfg`` as the model of ``role`` runs it: what is left to defaults ("auto" weights, unset fused
    attention) speeds up the teacher only.

    Widened weights and fused attention made batched synthesis 3.1x faster than one-by-one on the
    stored file; for answers they halved latency, but the paired answer measures leaned lower without
    a significant difference (README, "Measured: teacher throughput"), so an answer model runs as
    before unless its settings ask otherwise.
    """
    if cfg.backend != "llama-cpp":  # the settings concern llama.cpp only; a remote model is shared as it was
        return cfg
    teacher = role == "teacher"
    weights = cfg.weights if cfg.weights != "auto" or teacher else AS_STORED
    flash = cfg.flash_attention if cfg.flash_attention is not None else teacher
    return cfg.model_copy(update={"weights": weights, "flash_attention": flash})


def create_chat_model(cfg: ChatModelSettings, *, role: Role = "answers") -> ChatModel:
    """Create the chat model for ``cfg.backend`` and ``role``; an empty llama-cpp ``model_path`` means the
    bundled SmolLM2.

    Raises:
        ConfigError: unknown backend, missing package or model file.
    """
    cfg = for_role(cfg, role)
    if cfg.backend == "llama-cpp":
        path = Path(cfg.model_path).expanduser() if cfg.model_path else bundled_gguf_path()
        return LlamaCppChatModel(
            path,
            threads=cfg.threads,
            context_tokens=cfg.context_tokens,
            weights=cfg.weights,
            weights_dir=folder_setting(cfg.weights_dir),
            flash_attention=bool(cfg.flash_attention),
        )
    if cfg.backend == "openai":
        return OpenAIChatModel(
            cfg.base_url,
            api_key=cfg.api_key.get_secret_value() if cfg.api_key else None,
            model_name=cfg.model_name,
            timeout_s=cfg.timeout_s,
            max_concurrency=cfg.max_concurrency,
        )
    raise ConfigError(f"unknown chat model backend {cfg.backend!r} (expected 'llama-cpp' or 'openai')")
