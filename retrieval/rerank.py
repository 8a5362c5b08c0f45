"""Raw-first re-ranking: synthetic evidence re-orders the raw candidates of a query, by a bounded amount.

The raw ranking stays in charge. A candidate at raw position ``i`` (0 = best) scores
``-i + strength * e`` where ``e`` in [0, 1] is its synthetic evidence (an absolute similarity,
not a rank among items), and candidates are sorted by that score, ties kept in raw order.
Nothing outside the raw candidates can enter, and at ``strength`` 0 the raw order is returned unchanged.

**Movement bound.** A candidate can pass one ranked ``d`` places above it only if
``d < strength * (e_self - e_other) <= strength``; so it passes at most ``ceil(strength) - 1``
candidates, and as many can pass it: every candidate ends at most ``max_shift(strength)`` places
from its raw position (``strength`` <= 1 moves nothing at all).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from kernel import payload as P
from kernel.models import Hit, PointKind
from retrieval.evidence import Evidence


def max_shift(strength: float) -> int:
    """The most places any candidate can move at this strength: ``max(0, ceil(strength) - 1)``."""
    if strength < 0 or not math.isfinite(strength):
        raise ValueError(f"strength must be a finite number >= 0, got {strength}")
    return max(0, math.ceil(strength) - 1)


def clamp_evidence(value: float) -> float:
    """Evidence clipped to [0, 1] (a NaN counts as none)."""
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


def raw_first_order(raw: Sequence[str], evidence: Mapping[str, float], *, strength: float) -> list[str]:
    """The raw candidate ids re-ordered by their evidence, each within :func:`max_shift` places of its raw position.

    Args:
        raw: Candidate ids, best first, as the raw (chunk-only) search ranked them; no repeats.
        evidence: Per candidate id, its evidence in [0, 1] (values outside are clipped; missing = 0).
        strength: How many raw places full evidence is worth (lambda or alpha of the teacher profile).

    Returns:
        The same ids, re-ordered; exactly ``raw`` when ``strength`` is 0.
    """
    max_shift(strength)  # validates
    if strength == 0 or len(raw) < 2:
        return list(raw)
    scored = [
        (-position + strength * clamp_evidence(evidence.get(cid, 0.0)), position) for position, cid in enumerate(raw)
    ]
    order = sorted(range(len(raw)), key=lambda p: (-scored[p][0], scored[p][1]))
    return [raw[p] for p in order]


def combine(signals: Sequence[tuple[float, Mapping[str, float]]]) -> tuple[float, dict[str, float]]:
    """Several (strength, evidence) signals as one: their total strength and strength-weighted evidence.

    ``-i + sum(s_j * e_j)`` equals ``-i + S * e`` with ``S = sum(s_j)`` and ``e = sum(s_j * e_j) / S``,
    so the movement bound of the combination is :func:`max_shift` of the total strength.
    """
    total = 0.0
    for strength, _ in signals:
        max_shift(strength)  # validates
        total += strength
    if total == 0:
        return 0.0, {}
    merged: dict[str, float] = {}
    for strength, evidence in signals:
        if strength == 0:
            continue
        for cid, value in evidence.items():
            merged[cid] = merged.get(cid, 0.0) + strength * clamp_evidence(value) / total
    return total, merged


class RerankParams(BaseModel):
    """How synthetic evidence re-orders raw candidates: strengths in raw places, depth, item kinds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rerank_lambda: float = Field(default=0.0, ge=0.0, le=50.0)
    expansion_alpha: float = Field(default=0.0, ge=0.0, le=50.0)
    depth: int = Field(default=20, ge=1)
    kinds: tuple[PointKind, ...] = ()

    @property
    def active(self) -> bool:
        """Whether these parameters can change anything."""
        return (self.rerank_lambda > 0 and bool(self.kinds)) or self.expansion_alpha > 0


def rerank_hits(hits: list[Hit], evidence: Evidence, params: RerankParams, *, limit: int) -> list[Hit]:
    """The raw hits (best first) re-ordered by ``params`` and cut to ``limit``; matched items noted."""
    depth = max(params.depth, limit)
    head, tail = hits[:depth], hits[depth:]
    strength, merged = combine(
        [(params.rerank_lambda, evidence.item_evidence(params.kinds)), (params.expansion_alpha, evidence.expansion)]
    )
    by_id = {hit.id: hit for hit in head}
    ordered = [by_id[cid] for cid in raw_first_order([h.id for h in head], merged, strength=strength)] + tail
    out: list[Hit] = []
    for hit in ordered[:limit]:
        item = evidence.matched(hit.id, params.kinds)
        if item is None or params.rerank_lambda == 0:
            out.append(hit)
            continue
        matched = {"matched_kind": item.payload.get(P.KIND), "matched_text": item.payload.get(P.TEXT)}
        out.append(hit.model_copy(update=matched))
    return out
