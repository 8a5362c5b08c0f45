"""rrf_fuse against hand-computed scores and against qdrant-client's own RRF."""

from __future__ import annotations

import pytest
from qdrant_client.http import models
from qdrant_client.hybrid.fusion import reciprocal_rank_fusion

from retrieval.fusion import convex_fuse, normalized, rrf_fuse


def test_two_rankings_k1() -> None:
    # Score of 0-based position p is 1 / (p + k); with k = 1:
    #   a: 1/1           = 1.0
    #   b: 1/2 + 1/1     = 1.5
    #   c: 1/3 + 1/2     = 0.833333
    #   d:       1/3     = 0.333333
    fused = rrf_fuse([["a", "b", "c"], ["b", "c", "d"]], k=1)
    assert [i for i, _ in fused] == ["b", "a", "c", "d"]
    assert [s for _, s in fused] == pytest.approx([1.5, 1.0, 5 / 6, 1 / 3])


def test_k60_top_scores() -> None:
    # b: 1/61 + 1/60 = 0.0330601; a: 1/60 = 0.0166667
    fused = dict(rrf_fuse([["a", "b"], ["b"]], k=60))
    assert fused["b"] == pytest.approx(1 / 61 + 1 / 60)
    assert fused["a"] == pytest.approx(1 / 60)


def test_weights_and_first_seen_tie_break() -> None:
    # Weighted score 1 / ((p + 1) / w + k - 1); k = 1, weights [2, 1]:
    #   a: 1/(1/2)               = 2.0
    #   b: 1/(2/2) + 1/(1/1)     = 1.0 + 1.0 = 2.0   (ties with a: a was seen first)
    #   c: 1/(3/2) + 1/(2/1)     = 0.666667 + 0.5 = 1.166667
    #   d:           1/(3/1)     = 0.333333
    fused = rrf_fuse([["a", "b", "c"], ["b", "c", "d"]], k=1, weights=[2.0, 1.0])
    assert [i for i, _ in fused] == ["a", "b", "c", "d"]
    assert [s for _, s in fused] == pytest.approx([2.0, 2.0, 7 / 6, 1 / 3])


def test_muted_ranking_keeps_its_ids_at_zero() -> None:
    fused = rrf_fuse([["a"], ["z"]], k=1, weights=[1.0, 0.0])
    assert fused == [("a", 1.0), ("z", 0.0)]


def test_repeated_id_counts_once_at_its_best_position() -> None:
    # "a" at positions 0 and 1 earns only 1/1; "b" at position 2 earns 1/3.
    fused = rrf_fuse([["a", "a", "b"]], k=1)
    assert [i for i, _ in fused] == ["a", "b"]
    assert [s for _, s in fused] == pytest.approx([1.0, 1 / 3])


def test_empty_inputs() -> None:
    assert rrf_fuse([], k=60) == []
    assert rrf_fuse([[], []], k=60) == []


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="k must be"):
        rrf_fuse([["a"]], k=0)
    with pytest.raises(ValueError, match="weights"):
        rrf_fuse([["a"], ["b"]], k=1, weights=[1.0])


@pytest.mark.parametrize(("k", "weights"), [(2, None), (60, None), (5, [3.0, 1.0, 0.5])])
def test_matches_qdrant_client_rrf(k: int, weights: list[float] | None) -> None:
    rankings = [["a", "b", "c", "d"], ["c", "e", "a"], ["f", "a", "e", "b"]]
    responses = [[models.ScoredPoint(id=i, version=0, score=0.0) for i in ranking] for ranking in rankings]
    theirs = reciprocal_rank_fusion(responses, limit=10, ranking_constant_k=k, weights=weights)
    ours = rrf_fuse(rankings, k=k, weights=weights)
    assert dict(ours) == pytest.approx({str(p.id): p.score for p in theirs})
    assert [i for i, _ in ours] == [str(p.id) for p in theirs]


def test_minmax_and_zscore_normalization() -> None:
    scores = [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    assert normalized(scores, "minmax") == {"a": 1.0, "b": 0.5, "c": 0.0}
    z = normalized(scores, "zscore")
    assert z["b"] == pytest.approx(0.0)
    assert z["a"] == pytest.approx(-z["c"]) == pytest.approx(1.224744871)
    assert normalized([("x", 5.0), ("y", 5.0)], "minmax") == {"x": 1.0, "y": 1.0}
    assert normalized([("x", 5.0)], "zscore") == {"x": 0.0}
    assert normalized([], "minmax") == {}
    with pytest.raises(ValueError, match="normalization"):
        normalized(scores, "rank")


def test_convex_fuse_weights_the_arms() -> None:
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    sparse = [("c", 12.0), ("d", 6.0), ("b", 0.0)]
    # Dense alone: its order; the BM25-only id gets dense's floor (0) and sparse's score.
    assert [pid for pid, _ in convex_fuse(dense, sparse, dense_weight=1.0, norm="minmax")][:3] == ["a", "b", "c"]
    assert [pid for pid, _ in convex_fuse(dense, sparse, dense_weight=0.0, norm="minmax")][:2] == ["c", "d"]
    fused = dict(convex_fuse(dense, sparse, dense_weight=0.5, norm="minmax"))
    # a: 0.5*1 + 0.5*0 (missing from BM25: its floor); c: 0.5*0 + 0.5*1; b: 0.5*0.5 + 0.5*0; d: 0 + 0.5*0.5
    assert fused == pytest.approx({"a": 0.5, "c": 0.5, "b": 0.25, "d": 0.25})
    # Ties break by id, so one query always gets one ranking.
    assert [pid for pid, _ in convex_fuse(dense, sparse, dense_weight=0.5, norm="minmax")] == ["a", "c", "b", "d"]


def test_convex_fuse_refuses_a_weight_outside_0_1() -> None:
    with pytest.raises(ValueError, match="dense_weight"):
        convex_fuse([("a", 1.0)], [], dense_weight=1.5, norm="minmax")
