"""Micro-batching of concurrent calls: one model forward pass for the queries of many requests.

Leader/follower, the way dedicated embedding servers batch: a call that finds the worker idle runs at
once (a lone request waits for nothing); calls that arrive while it runs queue up, and when it ends
the oldest of them leads the next pass with every queued call that fits in ``max_items``. The
collection window is therefore the previous pass itself; ``wait_ms`` > 0 adds a short wait for more
company, but only when the leader already has some (two or more calls), never for a lone one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Call(Generic[T, R]):
    items: list[T]
    results: list[R] | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass(frozen=True)
class BatchStats:
    """Counters since start: passes run, calls served, items processed, largest pass (items)."""

    passes: int
    calls: int
    items: int
    largest: int


class MicroBatcher(Generic[T, R]):
    """Runs ``run_pass`` for concurrent callers, one pass at a time, joining small calls into one pass.

    ``run_pass`` must return one result per item, in order, independent of the other items of its
    pass (true of a transformer with an attention mask, up to float rounding of padded shapes). A
    call of more than ``max_items`` items (a bulk ingest batch) runs as a pass of its own.
    """

    def __init__(self, run_pass: Callable[[list[T]], list[R]], *, max_items: int, wait_ms: float = 0.0) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._run_pass = run_pass
        self._max_items = max_items
        self._wait_s = max(wait_ms, 0.0) / 1000
        self._cond = threading.Condition()
        self._queue: deque[_Call[T, R]] = deque()
        self._busy = False
        self._passes = self._calls = self._items = self._largest = 0

    @property
    def queued(self) -> int:
        """Calls waiting for a pass."""
        with self._cond:
            return len(self._queue)

    @property
    def stats(self) -> BatchStats:
        with self._cond:
            return BatchStats(self._passes, self._calls, self._items, self._largest)

    def run(self, items: Sequence[T]) -> list[R]:
        """Results of ``items``, from a pass shared with other callers' items when they fit.

        Raises:
            Whatever ``run_pass`` raised for the pass that held these items.
        """
        call: _Call[T, R] = _Call(list(items))
        if not call.items:
            return []
        with self._cond:
            self._queue.append(call)
            if self._wait_s > 0:
                self._cond.notify_all()  # a gathering leader counts the newcomer
            while not call.done and self._busy:
                self._cond.wait()
            if call.done:
                return _result(call)
            self._busy = True
        # This thread leads a pass; its own call is at the head of the queue or already served.
        try:
            while not call.done:
                self._lead()
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return _result(call)

    def _lead(self) -> None:
        if self._wait_s > 0:
            with self._cond:
                company = len(self._queue) > 1
            if company:
                self._gather()
        with self._cond:
            batch = self._take()
        items = [item for queued in batch for item in queued.items]
        try:
            results = self._run_pass(items)
            if len(results) != len(items):
                raise RuntimeError(f"a pass returned {len(results)} results for {len(items)} items")
        except BaseException as exc:  # every caller of the pass gets the error, then it propagates
            with self._cond:
                for queued in batch:
                    queued.error, queued.done = exc, True
                self._cond.notify_all()
            return
        with self._cond:
            start = 0
            for queued in batch:
                queued.results, queued.done = results[start : start + len(queued.items)], True
                start += len(queued.items)
            self._passes += 1
            self._calls += len(batch)
            self._items += len(items)
            self._largest = max(self._largest, len(items))
            self._cond.notify_all()

    def _gather(self) -> None:
        """Wait up to ``wait_s`` while more calls could still fit in the pass."""
        deadline = time.monotonic() + self._wait_s
        with self._cond:
            while sum(len(c.items) for c in self._queue) < self._max_items:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def _take(self) -> list[_Call[T, R]]:
        """The oldest queued calls whose items fit in one pass (at least one call)."""
        batch = [self._queue.popleft()]
        total = len(batch[0].items)
        while self._queue and total + len(self._queue[0].items) <= self._max_items:
            call = self._queue.popleft()
            batch.append(call)
            total += len(call.items)
        return batch


def _result(call: _Call[T, R]) -> list[R]:
    if call.error is not None:
        raise call.error
    assert call.results is not None
    return call.results
