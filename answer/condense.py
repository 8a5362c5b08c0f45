"""Turn a follow-up question into a standalone one before retrieval."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from answer.gate import GenerationGate
from answer.prompt import build_condense_messages
from kernel.errors import ModelError
from kernel.models import ChatMessage, GenerationParams
from kernel.ports import ChatModel

log = logging.getLogger(__name__)

MAX_CONDENSED_CHARS = 400


def concat_question(history: Sequence[ChatMessage], question: str) -> str:
    """Heuristic: the previous user question joined with the follow-up (keeps its topic words)."""
    previous = [m.content.strip() for m in history if m.role == "user"]
    return f"{previous[-1]} {question.strip()}" if previous else question.strip()


def condense_question(
    chat: ChatModel, gate: GenerationGate, history: Sequence[ChatMessage], question: str, *, method: str
) -> str:
    """Standalone version of ``question``; falls back to :func:`concat_question` on a bad rewrite."""
    fallback = concat_question(history, question)
    if method != "llm":
        return fallback
    try:
        with gate.reserve():
            completion = chat.complete(
                build_condense_messages(history, question),
                params=GenerationParams(max_tokens=64, temperature=0.0),
            )
    except ModelError as exc:
        log.warning("condensing failed, using the heuristic: %s", exc.message)
        return fallback
    rewritten = completion.text.strip().strip('"').strip()
    # Small models ramble or echo; only a short, complete, question-like rewrite is trusted.
    if not rewritten or len(rewritten) > MAX_CONDENSED_CHARS or completion.finish_reason == "length":
        return fallback
    # Keep the heuristic's words too: a weak rewrite must not lose the conversation's topic.
    return f"{rewritten} {fallback}" if rewritten.lower() not in fallback.lower() else fallback
