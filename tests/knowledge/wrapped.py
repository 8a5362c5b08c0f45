"""A real ChatModel wrapped for tests: counts generations; subclasses change one call in ``call``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kernel.models import ChatMessage, Completion, GenerationParams
from kernel.ports import ChatModel


class CountingModel:
    """Delegates to ``inner`` (the real model) and counts ``complete`` calls."""

    def __init__(self, inner: ChatModel) -> None:
        self._inner = inner
        self.calls = 0

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    def complete(
        self, messages: Sequence[ChatMessage], *, params: GenerationParams, schema: dict[str, Any] | None = None
    ) -> Completion:
        self.calls += 1
        return self.call(messages, params, schema)

    def call(
        self, messages: Sequence[ChatMessage], params: GenerationParams, schema: dict[str, Any] | None
    ) -> Completion:
        """One generation by the real model; override to change it."""
        return self._inner.complete(messages, params=params, schema=schema)

    def stream(self, messages: Sequence[ChatMessage], *, params: GenerationParams) -> Iterator[str]:
        return self._inner.stream(messages, params=params)
