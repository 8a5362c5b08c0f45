"""Deterministic ChatModel fakes shared by the tests: a scripted model and a counting wrapper around a real one.

Fakes stand in only at the ChatModel port (STYLE.md 13); tests/conftest.py exposes them as fixtures.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kernel.models import ChatMessage, Completion, GenerationParams
from kernel.ports import ChatModel, ChatStream

#: A scripted reply: the text to answer with, or an exception to raise instead.
Reply = str | Exception
#: How long a held generation waits for ``release`` before failing the test.
HOLD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ChatCall:
    """One call a fake received."""

    messages: list[ChatMessage]
    params: GenerationParams
    schema: dict[str, Any] | None
    streamed: bool

    @property
    def prompt(self) -> str:
        """Every message's content, one per line."""
        return "\n".join(m.content for m in self.messages)


def stream_pieces(text: str) -> list[str]:
    """How a fake streams ``text``: one piece per word, each keeping the whitespace after it."""
    return re.findall(r"\s*\S+\s*", text)


class ScriptedChat:
    """A ChatModel that replies from a script and records every call (thread-safe).

    Each call (``complete`` or ``stream``) takes the next reply; an exception reply is raised at
    the call. With ``loop`` the script starts over when it runs out, otherwise running out fails
    the test. With ``hold`` every generation sets ``started`` and then waits for ``release``
    (for tests that need a generation to last).
    """

    def __init__(
        self,
        replies: Sequence[Reply],
        *,
        model_id: str = "scripted",
        loop: bool = False,
        hold: bool = False,
    ) -> None:
        if not replies:
            raise ValueError("a ScriptedChat needs at least one reply")
        self._replies = list(replies)
        self._model_id = model_id
        self._loop = loop
        self._hold = hold
        self._next = 0
        self._lock = threading.Lock()
        self.calls: list[ChatCall] = []
        self.started = threading.Event()
        self.release = threading.Event()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def prompts(self) -> list[str]:
        """The prompt of every call so far, in order."""
        with self._lock:
            return [call.prompt for call in self.calls]

    def complete(
        self, messages: Sequence[ChatMessage], *, params: GenerationParams, schema: dict[str, Any] | None = None
    ) -> Completion:
        text = self._take(ChatCall(list(messages), params, schema, streamed=False))
        self._wait_if_held()
        return Completion(text=text, completion_tokens=len(text) // 4, finish_reason="stop")

    def stream(self, messages: Sequence[ChatMessage], *, params: GenerationParams) -> ChatStream:
        # The call is recorded (and an error raised) now, like a real model's prompt checks; the
        # pieces, and the hold, come on iteration.
        text = self._take(ChatCall(list(messages), params, None, streamed=True))
        return self._pieces(text)

    def _pieces(self, text: str) -> ChatStream:
        self._wait_if_held()
        pieces = stream_pieces(text)
        yield from pieces
        return Completion(text=text, completion_tokens=len(pieces), finish_reason="stop")

    def _take(self, call: ChatCall) -> str:
        with self._lock:
            self.calls.append(call)
            if self._next == len(self._replies):
                if not self._loop:
                    raise AssertionError(f"ScriptedChat script ran out after {len(self._replies)} replies")
                self._next = 0
            reply = self._replies[self._next]
            self._next += 1
        if isinstance(reply, Exception):
            # A looping script raises the same instance again: drop the traceback it collected last time.
            raise reply.with_traceback(None)
        return reply

    def _wait_if_held(self) -> None:
        self.started.set()
        if self._hold and not self.release.wait(timeout=HOLD_TIMEOUT_S):
            raise AssertionError(f"a held ScriptedChat generation was not released within {HOLD_TIMEOUT_S} s")


class ScriptedChats:
    """Makes ScriptedChat fakes for one test and releases every held one when the test ends."""

    def __init__(self) -> None:
        self.made: list[ScriptedChat] = []

    def __call__(
        self, replies: Sequence[Reply], *, model_id: str = "scripted", loop: bool = False, hold: bool = False
    ) -> ScriptedChat:
        chat = ScriptedChat(replies, model_id=model_id, loop=loop, hold=hold)
        self.made.append(chat)
        return chat

    def release_all(self) -> None:
        """Let every held generation finish (so no server thread waits out the hold timeout)."""
        for chat in self.made:
            chat.release.set()


class CountingChat:
    """A real ChatModel, counting its generations and how many ran at once.

    ``max_tokens`` caps every generation's token limit (the replies come back cut); ``model_id``
    replaces the inner model's id (a cache then treats it as another model).
    """

    def __init__(self, inner: ChatModel, *, model_id: str | None = None, max_tokens: int | None = None) -> None:
        self._inner = inner
        self._model_id = model_id
        self._max_tokens = max_tokens
        self._lock = threading.Lock()
        self._inside = 0
        #: ``complete`` calls so far.
        self.calls = 0
        #: The most ``complete`` calls that were inside the inner model at the same time.
        self.peak = 0
        #: What each finished ``complete`` returned, in order of completion.
        self.completions: list[Completion] = []

    @property
    def model_id(self) -> str:
        return self._model_id if self._model_id is not None else self._inner.model_id

    @property
    def finish_reasons(self) -> list[str]:
        """The finish reason of each finished ``complete``."""
        with self._lock:
            return [c.finish_reason for c in self.completions]

    def complete(
        self, messages: Sequence[ChatMessage], *, params: GenerationParams, schema: dict[str, Any] | None = None
    ) -> Completion:
        if self._max_tokens is not None:
            params = params.model_copy(update={"max_tokens": self._max_tokens})
        with self._lock:
            self.calls += 1
            self._inside += 1
            self.peak = max(self.peak, self._inside)
        try:
            completion = self._inner.complete(messages, params=params, schema=schema)
        finally:
            with self._lock:
                self._inside -= 1
        with self._lock:
            self.completions.append(completion)
        return completion

    def stream(self, messages: Sequence[ChatMessage], *, params: GenerationParams) -> ChatStream:
        return self._inner.stream(messages, params=params)


class ScriptedBatchChat(ScriptedChat):
    """A ScriptedChat with ``complete_many`` (a BatchChatModel): each conversation takes the next reply.

    ``batch_error`` makes every ``complete_many`` raise it (the single ``complete`` still answers
    from the script); ``batches`` records the size of each ``complete_many`` call.
    """

    def __init__(self, replies: Sequence[Reply], *, batch_error: Exception | None = None, **kwargs: Any) -> None:
        super().__init__(replies, **kwargs)
        self._batch_error = batch_error
        self.batches: list[int] = []

    def complete_many(
        self,
        conversations: Sequence[Sequence[ChatMessage]],
        *,
        params: GenerationParams,
        schema: dict[str, Any] | None = None,
    ) -> list[Completion]:
        self.batches.append(len(conversations))
        if self._batch_error is not None:
            raise self._batch_error.with_traceback(None)
        return [self.complete(messages, params=params, schema=schema) for messages in conversations]
