"""Maximal marginal relevance: pick results that are relevant but not redundant (Qdrant's MMR)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

#: One MMR candidate: id, dense vector, and its relevance (None = cosine similarity to the query).
Candidate = tuple[str, Sequence[float], float | None]


def _unit_rows(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    # A zero vector has no direction: leave it zero so all its similarities are 0 instead of NaN.
    unit: npt.NDArray[np.float64] = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


def mmr_select(
    query: Sequence[float],
    candidates: Sequence[Candidate],
    *,
    k: int,
    diversity: float,
) -> list[str]:
    """Greedily select up to ``k`` candidate ids by maximal marginal relevance.

    The first pick is the most relevant candidate; each next pick maximises
    ``(1 - diversity) * relevance - diversity * max_cosine_to_already_picked``. This matches
    Qdrant's MMR, whose ``lambda`` is ``1 - diversity`` (qdrant-edge's ``Mmr(lambda_=...)``).

    Args:
        query: The query's dense vector (used for candidates whose relevance is None).
        candidates: ``(id, vector, relevance)`` triples; relevance may be any score (e.g. a
            reranker's), or None for the cosine similarity between query and vector.
        k: How many ids to return at most.
        diversity: 0 = rank by relevance only, 1 = only avoid redundancy.

    Returns:
        Selected ids in selection order; ties go to the earlier candidate.
    """
    if not 0.0 <= diversity <= 1.0:
        raise ValueError("diversity must be within [0, 1]")
    if k <= 0 or not candidates:
        return []
    vectors = _unit_rows(np.asarray([c[1] for c in candidates], dtype=np.float64))
    unit_query = _unit_rows(np.asarray(query, dtype=np.float64))
    cosine_to_query = vectors @ unit_query
    relevance = np.array(
        [cosine_to_query[i] if c[2] is None else c[2] for i, c in enumerate(candidates)],
        dtype=np.float64,
    )
    similarity = vectors @ vectors.T
    lambda_ = 1.0 - diversity

    selected = [int(np.argmax(relevance))]
    pending = np.ones(len(candidates), dtype=bool)
    pending[selected[0]] = False
    # Running max similarity of every candidate to the picked set, updated per pick: O(n) a step.
    max_sim = similarity[selected[0]].copy()
    while len(selected) < k and pending.any():
        score = lambda_ * relevance - diversity * max_sim
        score[~pending] = -np.inf
        pick = int(np.argmax(score))
        selected.append(pick)
        pending[pick] = False
        max_sim = np.maximum(max_sim, similarity[pick])
    return [candidates[i][0] for i in selected]
