"""Small statistics helpers for benchmark reports."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    return {"cores": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}
