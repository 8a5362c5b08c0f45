"""Generation gate: one at a time, bounded waiting, immediate refusal beyond it."""

from __future__ import annotations

import threading
import time

import pytest

from answer.gate import GenerationGate
from kernel.errors import OverloadedError


def test_refuses_past_capacity_and_recovers() -> None:
    gate = GenerationGate(max_waiting=1, retry_after_s=7)
    first = gate.reserve()
    second = gate.reserve()
    with pytest.raises(OverloadedError) as info:
        gate.reserve()
    assert info.value.retry_after == 7
    first.release()
    second.release()
    second.release()  # idempotent
    assert gate.pending == 0
    gate.reserve().release()


def test_runs_one_at_a_time() -> None:
    gate = GenerationGate(max_waiting=5, retry_after_s=1)
    running = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, peak
        with gate.reserve():
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.02)
            with lock:
                running -= 1

    threads = [threading.Thread(target=work) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 1
    assert gate.pending == 0
