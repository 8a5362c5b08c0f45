"""Paired per-query comparison: nDCG per query consistent with evaluate, bootstrap interval, wins and losses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.metrics import evaluate
from evaluation.paired import paired_comparison, per_query_ndcg

# 1/log2(3), the rank-2 discount.
INV_LOG2_3 = 0.6309297535714575


def test_per_query_ndcg_matches_evaluate() -> None:
    qrels = {
        "q1": {"a": 1, "b": 2},
        "q2": {"c": 1},
        "q3": {"d": 1},  # judged but missing from the run: scores 0
        "q4": {"e": 0},  # no relevant judgment: not averaged
    }
    run = {"q1": ["x", "b", "a"], "q2": ["c"], "q4": ["e"], "q9": ["a"]}  # q9 unjudged: ignored
    scores = per_query_ndcg(run, qrels)
    assert set(scores) == {"q1", "q2", "q3"}
    # q1: DCG = 2/log2(3) + 1/log2(4) = 1.261860 + 0.5; IDCG = 2 + 1/log2(3) = 2.630930.
    assert scores["q1"] == pytest.approx((2 * INV_LOG2_3 + 0.5) / (2 + INV_LOG2_3))
    assert scores["q2"] == 1.0 and scores["q3"] == 0.0
    assert math.fsum(scores.values()) / len(scores) == evaluate(run, qrels).ndcg_at_10
    assert per_query_ndcg(run, qrels, k=1)["q1"] == 0.0  # the cutoff is passed through


def test_identical_runs_have_zero_delta_and_a_zero_interval() -> None:
    scores = {f"q{i}": i / 10 for i in range(10)}
    result = paired_comparison(scores, dict(scores))
    assert result.delta == 0.0 and result.delta_ci == (0.0, 0.0)
    assert (result.wins, result.ties, result.losses, result.n) == (0, 10, 0, 10)
    assert result.base_mean == result.other_mean == pytest.approx(0.45)
    assert result.as_json() == {"delta": 0.0, "delta_ci": [0.0, 0.0], "wins": 0, "ties": 10, "losses": 0, "n": 10}


def test_hand_computed_delta_and_counts() -> None:
    base = {"a": 0.5, "b": 0.2, "c": 0.7, "d": 0.4}
    other = {"d": 0.6, "c": 0.4, "b": 0.2, "a": 0.7}  # other key order: pairing is by id
    # differences: a +0.2, b 0, c -0.3, d +0.2 -> sum 0.1, mean 0.025; 2 wins, 1 tie, 1 loss.
    result = paired_comparison(base, other)
    assert result.delta == pytest.approx(0.025)
    assert result.base_mean == pytest.approx(0.45) and result.other_mean == pytest.approx(0.475)
    assert (result.wins, result.ties, result.losses, result.n) == (2, 1, 1, 4)
    low, high = result.delta_ci
    # Bootstrap means of 4 resampled differences lie between min and max difference.
    assert -0.3 - 1e-12 <= low <= result.delta <= high <= 0.2 + 1e-12


def test_constant_difference_interval_is_the_difference() -> None:
    result = paired_comparison({"a": 0.25, "b": 0.5}, {"a": 0.5, "b": 0.75})
    assert result.delta == 0.25 and result.delta_ci == (0.25, 0.25)
    assert result.wins == 2


def _noisy(n: int, seed: int) -> tuple[dict[str, float], dict[str, float]]:
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.2, 0.8, n)
    other = base + rng.normal(0.02, 0.1, n)
    return {f"q{i}": float(b) for i, b in enumerate(base)}, {f"q{i}": float(o) for i, o in enumerate(other)}


def test_interval_contains_delta_narrows_with_more_queries_and_matches_the_normal_width() -> None:
    small = paired_comparison(*_noisy(20, seed=1), resamples=4000)
    large = paired_comparison(*_noisy(2000, seed=1), resamples=4000)
    for result in (small, large):
        assert result.delta_ci[0] < result.delta < result.delta_ci[1]
    width_small = small.delta_ci[1] - small.delta_ci[0]
    width_large = large.delta_ci[1] - large.delta_ci[0]
    assert width_large < width_small / 5  # ~ sqrt(2000 / 20) = 10 times narrower
    # For many queries the percentile interval is close to mean +- 1.96 sd / sqrt(n).
    base, other = _noisy(2000, seed=1)
    diffs = np.array([other[q] - base[q] for q in base])
    expected = 2 * 1.959964 * diffs.std(ddof=1) / math.sqrt(len(diffs))
    assert width_large == pytest.approx(expected, rel=0.1)


def test_confidence_widens_the_interval() -> None:
    base, other = _noisy(200, seed=2)
    narrow = paired_comparison(base, other, confidence=0.5)
    wide = paired_comparison(base, other, confidence=0.99)
    assert wide.delta_ci[0] < narrow.delta_ci[0] < narrow.delta_ci[1] < wide.delta_ci[1]


def test_same_seed_same_interval_other_seed_differs() -> None:
    base, other = _noisy(50, seed=3)
    first = paired_comparison(base, other, seed=11)
    assert paired_comparison(base, other, seed=11) == first
    # Insertion order of the mappings does not change the draw.
    assert paired_comparison(dict(reversed(base.items())), other, seed=11) == first
    assert paired_comparison(base, other, seed=12).delta_ci != first.delta_ci


def test_many_resamples_are_drawn_in_blocks() -> None:
    # 3000 queries x 1000 resamples spans several blocks; the interval is still sane.
    base, other = _noisy(3000, seed=4)
    result = paired_comparison(base, other, resamples=1000)
    assert result.delta_ci[0] < result.delta < result.delta_ci[1]


def test_key_mismatch_names_the_extras() -> None:
    with pytest.raises(ValueError, match=r"1 only in base \['b'\], 1 only in other \['c'\]"):
        paired_comparison({"a": 0.1, "b": 0.2}, {"a": 0.1, "c": 0.2})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"resamples": 0}, "resamples"), ({"confidence": 1.0}, "confidence"), ({"confidence": 0.0}, "confidence")],
)
def test_bad_arguments_are_errors(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_comparison({"a": 0.1}, {"a": 0.2}, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one query"):
        paired_comparison({}, {})
