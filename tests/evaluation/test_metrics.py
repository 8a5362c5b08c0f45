"""IR metrics against hand-computed values, edge cases and averaging in evaluate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.metrics import EvalReport, evaluate, mrr_at_k, ndcg_at_k, recall_at_k
from kernel.errors import InvalidRequestError

# 1/log2(3) = ln 2 / ln 3 = 0.693147 / 1.098612 = 0.630930 (the rank-2 discount); log2(2) = 1, log2(4) = 2.
INV_LOG2_3 = 0.6309297535714575


def test_ndcg_graded_example() -> None:
    # ranking [d3, d1, d7], relevant {d1: 1, d7: 2}:
    #   DCG  = 0/log2(2) + 1/log2(3) + 2/log2(4) = 0 + 0.630930 + 1.0   = 1.630930
    #   IDCG = 2/log2(2) + 1/log2(3)             = 2.0 + 0.630930       = 2.630930
    #   nDCG = 1.630930 / 2.630930 = 0.619906
    assert ndcg_at_k(["d3", "d1", "d7"], {"d1": 1, "d7": 2}, 10) == pytest.approx(0.619906, abs=1e-6)


def test_ndcg_cutoff_smaller_than_ranking_truncates_dcg_and_idcg() -> None:
    # k = 2 keeps [d3, d1]:  DCG@2 = 0 + 1/log2(3) = 0.630930
    # IDCG@2 = 2/log2(2) + 1/log2(3) = 2.630930  ->  nDCG@2 = 0.630930 / 2.630930 = 0.239812
    assert ndcg_at_k(["d3", "d1", "d7"], {"d1": 1, "d7": 2}, 2) == pytest.approx(0.239812, abs=1e-6)


def test_ndcg_graded_relevance_rewards_the_higher_grade_first() -> None:
    # ranking [a, b], relevant {a: 1, b: 3}:
    #   DCG  = 1/log2(2) + 3/log2(3) = 1 + 3 * 0.630930 = 2.892789
    #   IDCG = 3/log2(2) + 1/log2(3) = 3 + 0.630930     = 3.630930
    #   nDCG = 2.892789 / 3.630930 = 0.796708
    assert ndcg_at_k(["a", "b"], {"a": 1, "b": 3}, 10) == pytest.approx(0.796708, abs=1e-6)
    assert ndcg_at_k(["b", "a"], {"a": 1, "b": 3}, 10) == pytest.approx(1.0)


def test_ndcg_ideal_is_cut_at_k_too() -> None:
    # Three relevant docs but k = 1: IDCG@1 = 1/log2(2) = 1 and DCG@1 = 1, so nDCG@1 = 1 (not 1/2.13).
    assert ndcg_at_k(["a", "x"], {"a": 1, "b": 1, "c": 1}, 1) == pytest.approx(1.0)


def test_zero_grades_are_not_relevant() -> None:
    # {d1: 0, d2: 1}, ranking [d1, d2]: only d2 is relevant.
    #   nDCG = (1/log2(3)) / (1/log2(2)) = 0.630930;  recall = 1/1;  MRR = 1/2 (d2 at rank 2).
    relevant = {"d1": 0, "d2": 1}
    assert ndcg_at_k(["d1", "d2"], relevant, 10) == pytest.approx(INV_LOG2_3)
    assert recall_at_k(["d1", "d2"], relevant, 10) == pytest.approx(1.0)
    assert mrr_at_k(["d1", "d2"], relevant, 10) == pytest.approx(0.5)


def test_recall_and_mrr_example() -> None:
    # ranking [d3, d1, d7], relevant {d1, d7}: top 2 holds d1 only -> recall@2 = 1/2; top 10 -> 2/2.
    # First relevant (d1) is at rank 2 -> MRR@10 = 1/2; MRR@1 looks at [d3] only -> 0.
    ranked, relevant = ["d3", "d1", "d7"], {"d1": 1, "d7": 2}
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(0.5)
    assert recall_at_k(ranked, relevant, 10) == pytest.approx(1.0)
    assert mrr_at_k(ranked, relevant, 10) == pytest.approx(0.5)
    assert mrr_at_k(ranked, relevant, 1) == 0.0


@pytest.mark.parametrize("relevant", [{}, {"d1": 0}, {"d1": -1}])
def test_no_relevant_documents_scores_zero(relevant: dict[str, int]) -> None:
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k):
        assert metric(["d1", "d2"], relevant, 10) == 0.0


def test_empty_ranking_scores_zero() -> None:
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k):
        assert metric([], {"d1": 1}, 10) == 0.0


def test_duplicates_count_once_at_first_occurrence() -> None:
    # [d1, d1, d7] deduplicates to [d1, d7]; with {d1: 1, d7: 1} and k = 2 both are found:
    #   recall@2 = 2/2 = 1; DCG@2 = 1 + 1/log2(3) = IDCG@2 -> nDCG@2 = 1.
    # Counting d1 twice would give recall@2 = 1/2 and DCG > IDCG.
    ranked, relevant = ["d1", "d1", "d7"], {"d1": 1, "d7": 1}
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1.0)
    assert ndcg_at_k(ranked, relevant, 2) == pytest.approx(1.0)
    # [x, x, d1]: the repeat of x does not push d1 down; it is the 2nd distinct doc -> MRR = 1/2.
    assert mrr_at_k(["x", "x", "d1"], {"d1": 1}, 2) == pytest.approx(0.5)


def test_relevant_beyond_the_cutoff_is_not_counted() -> None:
    # The relevant doc sits at rank 11: outside the top 10, inside the top 100.
    ranked = [f"x{i}" for i in range(10)] + ["hit"]
    assert recall_at_k(ranked, {"hit": 1}, 10) == 0.0
    assert mrr_at_k(ranked, {"hit": 1}, 10) == 0.0
    assert ndcg_at_k(ranked, {"hit": 1}, 10) == 0.0
    assert recall_at_k(ranked, {"hit": 1}, 100) == pytest.approx(1.0)


@pytest.mark.parametrize("k", [0, -3])
def test_cutoff_must_be_positive(k: int) -> None:
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k):
        with pytest.raises(InvalidRequestError, match="k must be >= 1"):
            metric(["d1"], {"d1": 1}, k)


def test_evaluate_averages_over_judged_queries() -> None:
    qrels = {
        "q1": {"d1": 1},
        "q2": {"d2": 1, "d3": 1},
        "q3": {"d4": 0},  # no relevant judgment: not averaged
        "q5": {"d5": 1},  # judged but absent from the run: scores 0
    }
    run = {
        "q1": ["d1"],
        "q2": ["x", "d2"],
        "q4": ["d9"],  # not judged: ignored
    }
    # q1: nDCG 1, recall 1, MRR 1.
    # q2: DCG = 1/log2(3) = 0.630930; IDCG = 1 + 0.630930 = 1.630930 -> nDCG = 0.386853;
    #     recall = 1/2; MRR = 1/2.
    # q5: all 0.  Means over 3 queries:
    #   nDCG@10 = (1 + 0.386853 + 0) / 3 = 0.462284;  recall@10 = recall@100 = (1 + 0.5 + 0) / 3 = 0.5;
    #   MRR@10 = (1 + 0.5 + 0) / 3 = 0.5.
    report = evaluate(run, qrels)
    assert report.n_queries == 3
    assert report.ndcg_at_10 == pytest.approx(0.462284, abs=1e-6)
    assert report.recall_at_10 == pytest.approx(0.5)
    assert report.recall_at_100 == pytest.approx(0.5)
    assert report.mrr_at_10 == pytest.approx(0.5)


def test_evaluate_recall_at_100_sees_deeper_hits() -> None:
    # One query, its only relevant doc at rank 50: recall@10 = 0, recall@100 = 1, MRR@10 = 0.
    run = {"q": [f"x{i}" for i in range(49)] + ["hit"]}
    report = evaluate(run, {"q": {"hit": 1}})
    assert (report.recall_at_10, report.recall_at_100, report.mrr_at_10) == (0.0, 1.0, 0.0)


def test_evaluate_without_judged_queries_is_an_error() -> None:
    with pytest.raises(InvalidRequestError, match="no query with a relevant"):
        evaluate({"q": ["d"]}, {"q": {"d": 0}})


def test_as_json_has_exactly_the_report_keys() -> None:
    report = EvalReport(ndcg_at_10=0.5, recall_at_10=0.6, recall_at_100=0.9, mrr_at_10=0.4, n_queries=7)
    assert report.as_json("hybrid") == {
        "ndcg@10": 0.5,
        "recall@10": 0.6,
        "recall@100": 0.9,
        "mrr@10": 0.4,
        "n_queries": 7,
        "mode": "hybrid",
    }


@given(
    grades=st.dictionaries(st.sampled_from("abcdefgh"), st.integers(min_value=0, max_value=3)),
    ranked=st.lists(st.sampled_from("abcdefghxyz"), max_size=15),
    k=st.integers(min_value=1, max_value=12),
)
def test_metrics_stay_in_unit_interval_and_ideal_order_scores_one(
    grades: dict[str, int], ranked: list[str], k: int
) -> None:
    for metric in (ndcg_at_k, recall_at_k, mrr_at_k):
        assert 0.0 <= metric(ranked, grades, k) <= 1.0 + 1e-12
    ideal = sorted((d for d, g in grades.items() if g > 0), key=lambda d: -grades[d])
    if ideal:
        assert ndcg_at_k(ideal, grades, k) == pytest.approx(1.0)
