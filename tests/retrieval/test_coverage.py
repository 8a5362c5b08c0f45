"""Coverage diversification, pure parts: greedy placement by expected gain, features, the model file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.coverage_fit import fit
from kernel.errors import ConfigError
from kernel.models import Diversity, Hit
from retrieval.coverage import (
    FEATURES,
    CoverageModel,
    auto_method,
    coverage_order,
    document_features,
    load_model,
    long_share,
    relevance,
)


def _hit(doc: str, n: int, score: float = 1.0) -> Hit:
    return Hit(id=f"{doc}-{n}", score=score, text=f"{doc} {n}", document_id=doc, source=f"{doc}.txt")


def _ids(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


def test_documents_follow_probability_and_a_strong_repeat_beats_a_weak_newcomer() -> None:
    hits = [_hit("a", 0), _hit("a", 1), _hit("b", 0), _hit("c", 0)]
    # b is likelier than a: b first. a's second chunk (0.6 * 0.5 = 0.3) beats c (0.1) but not a (0.6).
    order = coverage_order(hits, {"a": 0.6, "b": 0.8, "c": 0.1}, decay=0.5)
    assert _ids(order) == ["b-0", "a-0", "a-1", "c-0"]
    # With decay 0.9 the repeat earns 0.06 < 0.1: every document before any repeat.
    assert _ids(coverage_order(hits, {"a": 0.6, "b": 0.8, "c": 0.1}, decay=0.9)) == ["b-0", "a-0", "c-0", "a-1"]


def test_ties_keep_the_ranking_and_chunks_keep_their_order() -> None:
    hits = [_hit("a", 0), _hit("b", 0), _hit("a", 1), _hit("b", 1)]
    assert _ids(coverage_order(hits, {"a": 0.5, "b": 0.5}, decay=1.0)) == ["a-0", "b-0", "a-1", "b-1"]


@given(
    st.lists(st.tuples(st.sampled_from("abcde"), st.floats(0.0, 1.0)), min_size=0, max_size=15),
    st.floats(0.0, 1.0),
)
def test_coverage_order_is_a_permutation(draws: list[tuple[str, float]], decay: float) -> None:
    hits = [_hit(doc, n) for n, (doc, _) in enumerate(draws)]
    probability = {doc: p for doc, p in draws}
    order = coverage_order(hits, probability, decay=decay)
    assert sorted(_ids(order)) == sorted(_ids(hits))
    for doc in probability:  # a document's chunks keep their order
        assert [h.id for h in order if h.document_id == doc] == [h.id for h in hits if h.document_id == doc]


def test_features_of_a_hand_made_search() -> None:
    hits = [_hit("a", 0, 0.9), _hit("b", 0, 0.8), _hit("a", 1, 0.7)]
    dense = [_hit("b", 0, 0.6), _hit("a", 0, 0.5)]
    sparse = [_hit("a", 1, 8.0)]
    vectors = {"a-0": [1.0, 0.0], "b-0": [0.0, 1.0]}
    features = document_features(hits, dense=dense, sparse=sparse, vectors=vectors)
    named = {doc: dict(zip(FEATURES, values, strict=True)) for doc, values in features.items()}
    assert list(named) == ["a", "b"]
    assert named["a"]["inv_rank"] == 1.0 and named["a"]["is_top"] == 1.0 and named["a"]["sim_top"] == 1.0
    assert named["a"]["dense_gap"] == pytest.approx(-0.1) and named["a"]["inv_dense_rank"] == 0.5
    assert named["a"]["bm25_ratio"] == 1.0 and named["a"]["chunks"] == 2.0
    assert named["b"]["inv_rank"] == 0.5 and named["b"]["bm25_ratio"] == 0.0 and named["b"]["inv_bm25_rank"] == 0.0
    assert named["b"]["sim_top"] == 0.0 and named["b"]["sim_peers"] == 0.0  # orthogonal vectors


def test_relevance_is_the_logistic_of_the_weighted_features() -> None:
    model = CoverageModel(weights=(1.0,) + (0.0,) * (len(FEATURES) - 1), bias=-1.0)
    p = relevance(model, {"a": [1.0] + [5.0] * (len(FEATURES) - 1), "b": [0.0] * len(FEATURES)})
    assert p["a"] == pytest.approx(0.5)
    assert p["b"] == pytest.approx(1 / (1 + np.e))


def test_the_bundled_model_loads_and_a_bad_file_is_a_config_error(tmp_path: Path) -> None:
    model = load_model()
    assert model.features == FEATURES and "scifact" in model.fitted_on
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"features": ["x"], "weights": [1.0], "bias": 0.0}))
    with pytest.raises(ConfigError, match="coverage model"):
        load_model(bad)
    with pytest.raises(ConfigError, match="cannot load"):
        load_model(tmp_path / "missing.json")


def test_fit_recovers_the_direction_of_a_planted_signal() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, len(FEATURES)))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 3])))).astype(float)
    weights, _ = fit(x, y)
    assert weights[0] > 1.5 and weights[3] < -0.7
    assert all(abs(w) < 0.3 for i, w in enumerate(weights) if i not in (0, 3))


def _at(doc: str, index: int | None) -> Hit:
    return Hit(id=f"{doc}-{index}", score=1.0, text=doc, document_id=doc, source=f"{doc}.txt", chunk_index=index)


def test_auto_covers_unless_long_documents_hold_half_of_the_candidates() -> None:
    # b is seen at chunk index 9: long from 8, so both of its hits count; a and c (no index) are short.
    hits = [_at("a", 0), _at("b", 2), _at("a", 1), _at("b", 9), _at("c", None)]
    assert long_share(hits, long_document=8) == pytest.approx(2 / 5)
    assert auto_method(hits, long_document=8) is Diversity.COVERAGE
    assert auto_method([*hits[:4]], long_document=8) is Diversity.NEAR_DUPLICATES  # 2 of 4: half
    assert long_share(hits, long_document=10) == 0.0
    assert long_share(hits, long_document=1) == pytest.approx(4 / 5)
    assert long_share([], long_document=8) == 0.0
    assert auto_method([], long_document=8) is Diversity.COVERAGE
