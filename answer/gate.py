"""Admission control for generation: one at a time per model, a bounded queue, 429 beyond it."""

from __future__ import annotations

import threading
from types import TracebackType

from kernel.errors import OverloadedError


class Ticket:
    """A place in the queue; entering waits for the model, leaving frees the place and the model (once).

    ``release`` may come first, from outside (a reader that stopped early): the place is counted free at
    once, and the model is handed on when the holder leaves, after its current token.
    """

    def __init__(self, gate: GenerationGate) -> None:
        self._gate = gate
        self._entered = False
        self._released = False

    def __enter__(self) -> Ticket:
        self._gate._semaphore.acquire()
        self._entered = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
        if self._entered:
            self._entered = False
            self._gate._semaphore.release()

    def release(self) -> None:
        """Count the place free; safe to call more than once (e.g. from a finalizer)."""
        with self._gate._lock:
            if self._released:
                return
            self._released = True
            self._gate._pending -= 1


class GenerationGate:
    """Counts generations running plus waiting; refuses new ones past ``concurrency + max_waiting``."""

    def __init__(self, *, max_waiting: int, retry_after_s: int, concurrency: int = 1) -> None:
        self._semaphore = threading.Semaphore(concurrency)
        self._lock = threading.Lock()
        self._pending = 0
        self._capacity = concurrency + max_waiting
        self._retry_after = retry_after_s

    @property
    def pending(self) -> int:
        """Generations running or waiting now."""
        return self._pending

    def reserve(self) -> Ticket:
        """Take a place in the queue now, or raise OverloadedError at once (never blocks)."""
        with self._lock:
            if self._pending >= self._capacity:
                raise OverloadedError(
                    f"the model is busy ({self._pending} requests running or queued); retry in {self._retry_after} s",
                    retry_after=self._retry_after,
                )
            self._pending += 1
        return Ticket(self)
