"""ChatModel adapter for any OpenAI-compatible server (vLLM, llama-server, Ollama) via the openai SDK."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from kernel.errors import ConfigError, ModelError
from kernel.models import ChatMessage, Completion, GenerationParams
from kernel.ports import ChatStream

if TYPE_CHECKING:
    from openai import OpenAI

# Self-hosted servers rarely check the key, but the SDK insists on one; a placeholder also keeps the
# SDK from falling back to OPENAI_API_KEY and sending a real key to an arbitrary base_url.
_NO_KEY = "not-needed"


class OpenAIChatModel:
    """ChatModel port over ``/v1/chat/completions``; the SDK retries with backoff; errors are ModelError."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        model_name: str,
        timeout_s: float,
        max_retries: int = 2,
        max_concurrency: int = 8,
    ) -> None:
        # Lazy: only the openai backend needs the SDK (and its import time).
        try:
            import openai
        except ImportError as exc:
            raise ConfigError("the openai backend needs the openai package: pip install openai") from exc
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"OpenAI-compatible base_url must start with http:// or https://: {base_url!r}")
        self._errors: Any = openai
        self._client: OpenAI = openai.OpenAI(
            base_url=base_url, api_key=api_key or _NO_KEY, timeout=timeout_s, max_retries=max_retries
        )
        self._base_url = base_url
        self._model_name = model_name
        self._timeout_s = timeout_s
        # Bounds requests in flight from this process, whatever the callers' thread pools do.
        self._slots = threading.BoundedSemaphore(max_concurrency)

    @property
    def model_id(self) -> str:
        return f"openai:{self._base_url}:{self._model_name}"

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        params: GenerationParams,
        schema: dict[str, Any] | None = None,
    ) -> Completion:
        """Generate a reply; with ``schema`` the server is asked for ``json_schema`` structured output."""
        kwargs = self._kwargs(messages, params)
        if schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema},
            }
        try:
            with self._slots:
                response = self._client.chat.completions.create(**kwargs)
        except self._errors.OpenAIError as exc:
            self._raise(exc)
        if not response.choices:
            raise ModelError(f"{self._where()} returned no choices")
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
        )

    def stream(self, messages: Sequence[ChatMessage], *, params: GenerationParams) -> ChatStream:
        """Yield content deltas from a server-sent-events stream, then return the whole Completion.

        Token counts are the server's when it sends usage with the stream, else the number of deltas.
        """
        kwargs = self._kwargs(messages, params)
        pieces: list[str] = []
        finish_reason = "stop"
        usage = None
        with self._slots:
            try:
                chunks = self._client.chat.completions.create(stream=True, **kwargs)
                with chunks:
                    for chunk in chunks:
                        usage = chunk.usage or usage
                        if not chunk.choices:
                            continue
                        finish_reason = chunk.choices[0].finish_reason or finish_reason
                        if chunk.choices[0].delta.content:
                            pieces.append(chunk.choices[0].delta.content)
                            yield chunk.choices[0].delta.content
            except self._errors.OpenAIError as exc:
                self._raise(exc)
        return Completion(
            text="".join(pieces),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else len(pieces),
            finish_reason=finish_reason,
        )

    def _kwargs(self, messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self._model_name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            # max_tokens, not max_completion_tokens: every self-hosted server understands it.
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.stop:
            kwargs["stop"] = list(params.stop)
        return kwargs

    def _where(self) -> str:
        return f"OpenAI-compatible server {self._base_url} (model {self._model_name!r})"

    def _raise(self, exc: Exception) -> NoReturn:
        errors = self._errors
        if isinstance(exc, errors.APITimeoutError):
            message = f"{self._where()} timed out after {self._timeout_s:g} s"
        elif isinstance(exc, errors.APIConnectionError):
            message = f"cannot reach {self._where()}: {exc}"
        elif isinstance(exc, errors.APIStatusError):
            message = f"{self._where()} answered HTTP {exc.status_code}: {exc.message}"
        else:
            message = f"{self._where()} failed: {exc}"
        raise ModelError(message) from exc
