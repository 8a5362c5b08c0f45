"""Diversity metrics against hand-computed values: document recall and alpha-nDCG over hits, near-duplicates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.diversity import (
    alpha_dcg_at_k,
    alpha_ndcg_at_k,
    doc_recall_at_k,
    ideal_alpha_dcg_at_k,
    multi_relevant,
    near_duplicate_count,
)
from kernel.errors import InvalidRequestError
from kernel.models import Hit

# Discounts 1/log2(r + 1): r=1 1.0, r=2 0.630930, r=3 0.5, r=4 0.430677, r=5 0.386853.
D2, D5 = 0.6309297535714575, 0.38685280723454163


def test_doc_recall_counts_distinct_documents_of_the_top_hits() -> None:
    # Top 5 hits [A, A, x, B, C] hold the documents {A, x, B, C}: 2 of the 3 relevant {A, B, D}.
    hits = ["A", "A", "x", "B", "C"]
    assert doc_recall_at_k(hits, {"A": 1, "B": 1, "D": 1}, 5) == pytest.approx(2 / 3)
    # Top 2 hits are both A: 1 of 3 (a repeated chunk takes a place).
    assert doc_recall_at_k(hits, {"A": 1, "B": 1, "D": 1}, 2) == pytest.approx(1 / 3)
    assert doc_recall_at_k(hits, {"A": 0}, 5) == 0.0  # nothing relevant
    assert doc_recall_at_k([], {"A": 1}, 5) == 0.0


def test_alpha_dcg_by_hand() -> None:
    # [A, A, x, B, C], relevant {A, B}, alpha 0.5:
    #   r1 A first hit: 1 * 1.0 = 1.0;  r2 A second hit: 0.5 * 0.630930 = 0.315465
    #   r3 x: 0;  r4 B first hit: 1 * 0.430677 = 0.430677;  r5 C unjudged: 0
    #   alpha-DCG@5 = 1.746142
    assert alpha_dcg_at_k(["A", "A", "x", "B", "C"], {"A": 1, "B": 1}, 5) == pytest.approx(1.746142, abs=1e-6)
    # alpha = 0 is plain DCG over hits (repeats earn in full); alpha = 1 earns each document once.
    assert alpha_dcg_at_k(["A", "A"], {"A": 1}, 5, alpha=0.0) == pytest.approx(1 + D2)
    assert alpha_dcg_at_k(["A", "A"], {"A": 1}, 5, alpha=1.0) == pytest.approx(1.0)


def test_ideal_is_greedy_round_robin_over_relevant_documents() -> None:
    # Two relevant, k = 5: gains 1, 1 (one hit of each), then 0.5, 0.5 (second hits), then 0.25:
    #   1 + 0.630930 + 0.5*0.5 + 0.5*0.430677 + 0.25*0.386853 = 2.192981
    assert ideal_alpha_dcg_at_k(2, 5) == pytest.approx(2.192981, abs=1e-6)
    # One relevant, k = 3: 1 + 0.5*0.630930 + 0.25*0.5 = 1.440465
    assert ideal_alpha_dcg_at_k(1, 3) == pytest.approx(1.440465, abs=1e-6)
    # More relevant than k: every rank earns 1.
    assert ideal_alpha_dcg_at_k(9, 2) == pytest.approx(1 + D2)
    assert ideal_alpha_dcg_at_k(0, 5) == 0.0


def test_alpha_ndcg_by_hand() -> None:
    # 1.746142 / 2.192981 = 0.796241
    assert alpha_ndcg_at_k(["A", "A", "x", "B", "C"], {"A": 1, "B": 1}, 5) == pytest.approx(0.796241, abs=1e-6)
    # The diversified order [A, B, A, ...] is ideal for two relevant documents: 1.0.
    assert alpha_ndcg_at_k(["A", "B", "A", "B", "A"], {"A": 1, "B": 1}, 5) == pytest.approx(1.0)
    # [A, x, B, C, A]: 1 + 0.5 + 0.5*0.386853 = 1.693426 -> 0.772205 (B at rank 3, A's repeat at 5).
    assert alpha_ndcg_at_k(["A", "x", "B", "C", "A"], {"A": 1, "B": 1}, 5) == pytest.approx(
        (1 + 0.5 + 0.5 * D5) / 2.1929812344167896
    )
    assert alpha_ndcg_at_k(["x"], {"A": 0}, 5) == 0.0


@pytest.mark.parametrize("k", [0, -1])
def test_cutoff_below_one_is_refused(k: int) -> None:
    with pytest.raises(InvalidRequestError):
        doc_recall_at_k(["A"], {"A": 1}, k)
    with pytest.raises(InvalidRequestError):
        alpha_ndcg_at_k(["A"], {"A": 1}, k)


@given(
    hits=st.lists(st.sampled_from("ABCDEFxyz"), max_size=12),
    relevant=st.sets(st.sampled_from("ABCDEF"), min_size=1),
    k=st.integers(1, 10),
    alpha=st.floats(0.0, 1.0),
)
def test_alpha_ndcg_is_a_share_of_the_ideal(hits: list[str], relevant: set[str], k: int, alpha: float) -> None:
    grades = dict.fromkeys(relevant, 1)
    score = alpha_ndcg_at_k(hits, grades, k, alpha)
    assert -1e-12 <= score <= 1.0 + 1e-12
    assert 0.0 <= doc_recall_at_k(hits, grades, k) <= 1.0


def _hit(name: str, doc: str, start: int, end: int) -> Hit:
    return Hit(id=name, score=0.0, text=name, document_id=doc, source=doc, start=start, end=end)


def test_near_duplicate_count_by_vector_and_by_span() -> None:
    hits = [_hit("a", "A", 0, 100), _hit("b", "A", 60, 100), _hit("c", "B", 0, 50), _hit("d", "C", 0, 50)]
    # b shares all of its span with a; c is at cosine 0.95 from a; d is orthogonal to all.
    vectors = {"a": [1.0, 0.0, 0.0], "b": [0.0, 0.0, 1.0], "c": [0.95, 0.312, 0.0], "d": [0.0, 1.0, 0.0]}
    assert near_duplicate_count(hits, vectors, similarity=0.9) == 2
    assert near_duplicate_count(hits, vectors, similarity=0.99) == 1  # the span alone
    assert near_duplicate_count(hits[:1], vectors, similarity=0.9) == 0


def test_multi_relevant_queries() -> None:
    qrels = {"q1": {"A": 1}, "q2": {"A": 1, "B": 1}, "q3": {"A": 1, "B": 0}, "q4": {"A": 2, "B": 1, "C": 1}}
    assert multi_relevant(qrels) == {"q2", "q4"}
