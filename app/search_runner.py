"""Where a search's blocking steps run: on a few worker threads, or on the event loop for a lone search.

A store search holds the GIL (qdrant-edge releases it only inside the engine call), so it runs on one
of ``SYNTHRAG_SEARCH_THREADS`` worker threads: more threads only queue for the GIL (README
"Throughput"), and the event loop stays free to read other requests and hand queries to the embedding
micro-batcher meanwhile. A search alone in the service has nothing to overlap with, and the hand-off
costs it two thread wake-ups: 0.22 ms of a 2.0 ms BM25 round trip on 2 cores (paired, 900 requests;
README "Throughput"). So a lone search whose plan came from memory (no metadata read or model load
pending) runs its store step on the loop, with the small reads that step makes (the deleted-documents
check in SQLite, index pages not yet in memory); a search arriving meanwhile waits at most that one step.
``SYNTHRAG_SEARCH_LONE_INLINE=false`` keeps every step on the threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class SearchRunner:
    """Counts the searches in flight and runs their blocking steps (one per app, on ``app.state``)."""

    def __init__(self, threads: int, *, lone_inline: bool = True) -> None:
        """``lone_inline``: a lone warm search's store step may run on the loop (``SYNTHRAG_SEARCH_LONE_INLINE``)."""
        self.limiter = anyio.CapacityLimiter(threads)
        self._lone_inline = lone_inline
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Searches between :meth:`entered` and its exit."""
        return self._in_flight

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Count a search as in flight for the block (event loop only: the count is not locked)."""
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1

    async def in_thread(self, step: Callable[[], T]) -> T:
        """``step`` on a worker thread."""
        return await anyio.to_thread.run_sync(step, limiter=self.limiter)

    async def store_step(self, step: Callable[[], T], *, warm: bool) -> T:
        """``step`` on the event loop when it is the only search in flight and ``warm`` (its plan came
        from memory: no model to load, the collection's records fresh), else on a worker thread."""
        if self._lone_inline and warm and self._in_flight == 1:
            return step()
        return await self.in_thread(step)
