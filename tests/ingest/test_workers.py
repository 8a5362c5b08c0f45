"""The worker pool: starts one worker per thread, wakes them, and stops them all on close."""

from __future__ import annotations

import threading
from typing import cast

from ingest.worker import Worker
from ingest.workers import WorkerPool


class LoopingWorker:
    """Stands in for Worker.run: counts wake-ups until stopped."""

    def __init__(self, started: threading.Semaphore) -> None:
        self.started = started
        self.wakeups = 0
        self.stopped = False

    def run(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        self.started.release()
        assert wake is not None
        while not stop.is_set():
            if wake.wait(0.05):
                wake.clear()
                self.wakeups += 1
        self.stopped = True


def test_pool_runs_each_worker_in_its_own_thread_until_closed() -> None:
    started = threading.Semaphore(0)
    made: list[LoopingWorker] = []

    def factory() -> Worker:
        made.append(LoopingWorker(started))
        return cast(Worker, made[-1])

    wake = threading.Event()
    pool = WorkerPool(factory, wake=wake)
    pool.start(3)
    for _ in range(3):
        assert started.acquire(timeout=10)
    assert len(made) == 3 and len({id(w) for w in made}) == 3
    assert {t.name for t in threading.enumerate()} >= {"ingest-worker-0", "ingest-worker-1", "ingest-worker-2"}
    pool.close(timeout_s=10)
    assert all(w.stopped for w in made) and pool.stop_event.is_set()
    assert not any(t.name.startswith("ingest-worker-") and t.is_alive() for t in threading.enumerate())


def test_start_zero_is_a_no_op_and_close_without_threads_is_safe() -> None:
    calls: list[int] = []

    def factory() -> Worker:
        calls.append(1)
        raise AssertionError("no worker should be made")

    pool = WorkerPool(factory)
    pool.start(0)
    pool.close()
    assert calls == []
