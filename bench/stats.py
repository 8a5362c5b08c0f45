"""Small statistics helpers for benchmark reports."""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Callable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def bootstrap_interval(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 10000,
    seed: int = 0,
    statistic: Callable[[Sequence[float]], float] | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (default: the mean) of ``values`` (e.g. paired
    per-repetition ratios)."""
    if not values:
        raise ValueError("no values")
    rng = random.Random(seed)
    n = len(values)
    of = statistic or (lambda sample: sum(sample) / n)
    estimates = sorted(of(rng.choices(values, k=n)) for _ in range(resamples))
    tail = (1 - confidence) / 2
    return estimates[int(tail * (resamples - 1))], estimates[int((1 - tail) * (resamples - 1))]


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    return {"cores": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}
