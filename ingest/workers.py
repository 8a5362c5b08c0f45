"""A pool of ingest worker threads in this process: started once, stopped on close."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ingest.worker import Worker

#: Builds one worker (each thread gets its own, with its own worker id).
WorkerFactory = Callable[[], Worker]


class WorkerPool:
    """Runs worker loops in daemon threads until :meth:`close`; a queue wake-up event is shared."""

    def __init__(self, factory: WorkerFactory, *, wake: threading.Event | None = None) -> None:
        self._factory = factory
        self._wake = wake or threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def stop_event(self) -> threading.Event:
        """Set by :meth:`close`; a worker run in the caller's thread can wait on it too."""
        return self._stop

    def start(self, count: int) -> None:
        """Start ``count`` more worker threads."""
        for _ in range(count):
            worker = self._factory()
            thread = threading.Thread(
                target=worker.run,
                args=(self._stop, self._wake),
                name=f"ingest-worker-{len(self._threads)}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def close(self, *, timeout_s: float = 60.0) -> None:
        """Stop the threads after their current job (a job cut short is retried after its lease)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self._threads.clear()
