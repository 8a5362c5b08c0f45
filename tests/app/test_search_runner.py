"""Where a search's store step runs: the loop for a lone warm search, a worker thread otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from app.search_runner import SearchRunner


def _where(runner: SearchRunner, *, warm: bool, others: int = 0) -> tuple[bool, int]:
    """(whether the step ran on the event loop's thread, searches in flight during it)."""

    async def go() -> tuple[bool, int]:
        loop_thread = threading.get_ident()
        with contextlib.ExitStack() as stack:
            for _ in range(others):  # others mid-way (awaiting their embedding, say)
                stack.enter_context(runner.entered())
            with runner.entered():
                ran_on = await runner.store_step(threading.get_ident, warm=warm)
                return ran_on == loop_thread, runner.in_flight

    return asyncio.run(go())


def test_a_lone_warm_search_runs_on_the_loop() -> None:
    assert _where(SearchRunner(2), warm=True) == (True, 1)


def test_a_cold_search_or_one_among_others_runs_on_a_worker_thread() -> None:
    runner = SearchRunner(2)
    assert _where(runner, warm=False) == (False, 1)  # its plan needed I/O: the caches it reads may too
    assert _where(runner, warm=True, others=1) == (False, 2)
    assert runner.in_flight == 0


def test_lone_inline_off_keeps_every_step_on_the_threads() -> None:
    assert _where(SearchRunner(2, lone_inline=False), warm=True) == (False, 1)


def test_the_count_drops_when_a_search_fails() -> None:
    runner = SearchRunner(1)

    async def failing() -> None:
        with runner.entered():
            await runner.store_step(lambda: 1 / 0, warm=True)

    with pytest.raises(ZeroDivisionError):
        asyncio.run(failing())
    assert runner.in_flight == 0
