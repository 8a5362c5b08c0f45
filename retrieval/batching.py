"""Micro-batching of concurrent calls: one model forward pass for the queries of many requests.

A dedicated worker thread runs every pass, the way dedicated embedding servers batch: it takes the
oldest waiting call together with every waiting call that fits in ``max_items``, runs the pass, hands
each caller its results and at once starts the next pass with whatever queued meanwhile. A lone call
therefore waits for nothing but the hand-over to the worker, and the collection window is the previous
pass itself; ``wait_ms`` > 0 adds a short wait for more company, but only when a pass already has some
(two or more calls), never for a lone one.

Callers are threads (:meth:`MicroBatcher.run`) or coroutines (:meth:`MicroBatcher.run_async`, which
waits on a future and holds no thread: the server's search route, where fifty threads blocked on a
condition and fighting over the GIL cost more than the model pass; measured, README "Throughput").
Both kinds share the same passes. Passes never overlap, and all run on the one worker thread (torch
keeps a team of OpenMP threads per calling thread; one caller thread keeps one team).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Call(Generic[T, R]):
    items: list[T]
    results: list[R] | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    future: asyncio.Future[list[R]] | None = None  # set for a coroutine's call
    loop: asyncio.AbstractEventLoop | None = None

    def finish(self, results: list[R] | None, error: BaseException | None) -> None:
        self.results, self.error = results, error
        self.done.set()
        if self.future is not None and self.loop is not None:
            with contextlib.suppress(RuntimeError):  # the caller's loop has closed: nobody is waiting
                self.loop.call_soon_threadsafe(_settle, self.future, results, error)


_POLL_S = 1.0
#: Seconds without a call after a pass before the worker runs the batcher's ``on_idle``.
IDLE_S = 0.5


def _serve(ref: weakref.ref[MicroBatcher[T, R]], cond: threading.Condition, queue: deque[_Call[T, R]]) -> None:
    """The worker thread: one pass at a time while its batcher lives (a strong reference only during a pass or
    its idle call); ``on_idle`` once the queue has stayed empty for ``IDLE_S`` after a pass."""
    busy = False  # a pass ran since the last idle call
    while True:
        with cond:
            if not queue:
                cond.wait(IDLE_S if busy else _POLL_S)
            batcher = ref()
            if batcher is None:
                return
            if queue:
                batch: list[_Call[T, R]] | None = batcher._next()
            elif busy:
                batch = None
            else:
                del batcher
                continue
        if batch is None:
            busy = False
            batcher._idle()
        else:
            batcher._pass(batch)
            busy = True
        del batcher


def _settle(future: asyncio.Future[list[R]], results: list[R] | None, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert results is not None
        future.set_result(results)


@dataclass(frozen=True)
class BatchStats:
    """Counters since start: passes run, calls served, items processed, largest pass (items)."""

    passes: int
    calls: int
    items: int
    largest: int


class MicroBatcher(Generic[T, R]):
    """Runs ``run_pass`` for concurrent callers on one worker thread, joining small calls into one pass.

    ``run_pass`` must return one result per item, in order, independent of the other items of its
    pass (true of a transformer with an attention mask, up to float rounding of padded shapes). A
    call of more than ``max_items`` items (a bulk ingest batch) runs as a pass of its own. The worker
    starts with the first call and lives while the batcher does (a daemon thread, idle on a condition; it
    holds the batcher weakly and ends within a second of the batcher being dropped).
    """

    def __init__(
        self,
        run_pass: Callable[[list[T]], list[R]],
        *,
        max_items: int,
        wait_ms: float = 0.0,
        name: str = "synthrag-batch",
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        """``on_idle`` runs on the worker thread when no call has come for ``IDLE_S`` after a pass (releasing
        what the passes held, say); its errors are logged and ignored."""
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._run_pass = run_pass
        self._on_idle = on_idle
        self._max_items = max_items
        self._wait_s = max(wait_ms, 0.0) / 1000
        self._name = name
        self._cond = threading.Condition()
        self._queue: deque[_Call[T, R]] = deque()
        self._worker: threading.Thread | None = None
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
        if not items:
            return []
        call: _Call[T, R] = _Call(list(items))
        self._submit(call)
        call.done.wait()
        if call.error is not None:
            raise call.error
        assert call.results is not None
        return call.results

    async def run_async(self, items: Sequence[T]) -> list[R]:
        """:meth:`run` for a coroutine: it awaits its pass without holding a thread.

        A cancelled caller's items may still be in a pass; its results are dropped.
        """
        if not items:
            return []
        loop = asyncio.get_running_loop()
        call: _Call[T, R] = _Call(list(items), future=loop.create_future(), loop=loop)
        assert call.future is not None
        self._submit(call)
        return await call.future

    def _submit(self, call: _Call[T, R]) -> None:
        with self._cond:
            self._queue.append(call)
            if self._worker is None:
                # The thread holds the batcher only weakly, so that a dropped model (an adapted space's, say)
                # is freed: the worker then ends within a poll interval.
                args = (weakref.ref(self), self._cond, self._queue)
                self._worker = threading.Thread(target=_serve, args=args, name=self._name, daemon=True)
                self._worker.start()
            self._cond.notify_all()

    def _next(self) -> list[_Call[T, R]]:
        """The calls of the next pass (the lock is held and the queue is not empty)."""
        if self._wait_s > 0 and len(self._queue) > 1:
            self._gather()
        return self._take()

    def _pass(self, batch: list[_Call[T, R]]) -> None:
        items = [item for queued in batch for item in queued.items]
        try:
            results = self._run_pass(items)
            if len(results) != len(items):
                raise RuntimeError(f"a pass returned {len(results)} results for {len(items)} items")
        except BaseException as exc:  # every caller of the pass gets the error; the worker goes on
            for queued in batch:
                queued.finish(None, exc)
            return
        with self._cond:
            self._passes += 1
            self._calls += len(batch)
            self._items += len(items)
            self._largest = max(self._largest, len(items))
        start = 0
        for queued in batch:
            queued.finish(results[start : start + len(queued.items)], None)
            start += len(queued.items)

    def _idle(self) -> None:
        if self._on_idle is None:
            return
        try:
            self._on_idle()
        except Exception:  # an idle clean-up must not end the worker
            log.exception("micro-batcher %s: idle call failed", self._name)

    def _gather(self) -> None:
        """Wait up to ``wait_s`` while more calls could still fit in the pass (the lock is held)."""
        deadline = time.monotonic() + self._wait_s
        while sum(len(c.items) for c in self._queue) < self._max_items:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)

    def _take(self) -> list[_Call[T, R]]:
        """The oldest queued calls whose items fit in one pass (at least one call; the lock is held)."""
        batch = [self._queue.popleft()]
        total = len(batch[0].items)
        while self._queue and total + len(self._queue[0].items) <= self._max_items:
            call = self._queue.popleft()
            batch.append(call)
            total += len(call.items)
        return batch
