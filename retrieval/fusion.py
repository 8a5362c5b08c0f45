"""Score fusion of dense and BM25 rankings: reciprocal rank fusion (as Qdrant scores ``Fusion.RRF``) and convex."""

from __future__ import annotations

from collections.abc import Sequence


def rrf_fuse(
    rankings: Sequence[Sequence[str]],
    *,
    k: int,
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    """Fuse rankings (ids best first) into one, best first.

    An id at 0-based position ``p`` of a ranking with weight ``w`` earns ``1 / ((p + 1) / w + k - 1)``,
    which is ``1 / (p + k)`` for ``w = 1``. This is Qdrant's formula (server, qdrant-edge and
    qdrant-client), so client-side fusion and the store's native fusion give the same scores.

    Args:
        rankings: One list of ids per retriever, best first; an id repeated within a ranking
            counts only at its best position.
        k: Rank constant; larger values flatten the advantage of top positions.
        weights: Optional weight per ranking (default 1 each); weights <= 0 mute a ranking.

    Returns:
        ``(id, score)`` pairs sorted by score descending; ties keep first-seen order.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    if weights is not None and len(weights) != len(rankings):
        raise ValueError(f"got {len(weights)} weights for {len(rankings)} rankings")
    scores: dict[str, float] = {}
    for index, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else float(weights[index])
        seen: set[str] = set()
        for position, point_id in enumerate(ranking):
            if point_id in seen:
                continue
            seen.add(point_id)
            # A muted ranking still lists its ids (score 0) so nothing silently disappears.
            gain = 0.0 if weight <= 0 else 1.0 / ((position + 1) / weight + k - 1)
            scores[point_id] = scores.get(point_id, 0.0) + gain
    # sorted() is stable, so equal scores keep the order in which ids were first seen.
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def normalized(scores: Sequence[tuple[str, float]], norm: str) -> dict[str, float]:
    """One arm's scores rescaled: ``minmax`` to [0, 1] (best 1), ``zscore`` to mean 0, unit deviation.

    Constant scores (or a single hit) become 1.0 under min-max and 0.0 under z-score, so an arm
    that cannot tell its hits apart adds the same to each of them.
    """
    if norm not in {"minmax", "zscore"}:
        raise ValueError(f"unknown score normalization {norm!r}: use minmax or zscore")
    if not scores:
        return {}
    values = [s for _, s in scores]
    if norm == "minmax":
        low, high = min(values), max(values)
        span = high - low
        return {pid: (s - low) / span if span > 0 else 1.0 for pid, s in scores}
    mean = sum(values) / len(values)
    deviation = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    return {pid: (s - mean) / deviation if deviation > 0 else 0.0 for pid, s in scores}


def convex_fuse(
    dense: Sequence[tuple[str, float]],
    sparse: Sequence[tuple[str, float]],
    *,
    dense_weight: float,
    norm: str,
) -> list[tuple[str, float]]:
    """Fuse two scored arms by a convex combination of normalized scores, best first.

    Each arm's ``(id, score)`` list (its top candidates) is normalized on its own (:func:`normalized`);
    an id one arm did not return gets that arm's lowest normalized score (it ranked below all of them).
    The fused score is ``w * dense + (1 - w) * sparse``; ties break by id, so one query gives one ranking.
    """
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError("dense_weight must be within [0, 1]")
    arms = [normalized(dense, norm), normalized(sparse, norm)]
    floors = [min(arm.values()) if arm else 0.0 for arm in arms]
    ids = list(dict.fromkeys([pid for pid, _ in dense] + [pid for pid, _ in sparse]))
    weights = (dense_weight, 1.0 - dense_weight)
    fused = [
        (pid, sum(w * arm.get(pid, floor) for w, arm, floor in zip(weights, arms, floors, strict=True))) for pid in ids
    ]
    return sorted(fused, key=lambda item: (-item[1], item[0]))
