"""Reciprocal rank fusion of several rankings, scored exactly as Qdrant scores ``Fusion.RRF``."""

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
