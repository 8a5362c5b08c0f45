"""mmr_select against hand-computed selections."""

from __future__ import annotations

import pytest

from tests.retrieval.mmr_oracle import Candidate, mmr_select

# Query q = (1, 0). Cosines: q·A = 1.0, q·B = 0.8, q·C = 0.6; A·B = 0.8, A·C = 0.6, B·C = 0.
QUERY = [1.0, 0.0]
CANDIDATES: list[Candidate] = [
    ("A", [1.0, 0.0], None),
    ("B", [0.8, 0.6], None),
    ("C", [0.6, -0.8], None),
]


def test_no_diversity_is_relevance_order() -> None:
    assert mmr_select(QUERY, CANDIDATES, k=3, diversity=0.0) == ["A", "B", "C"]


def test_mild_diversity_keeps_relevance_order() -> None:
    # After A (lambda = 0.7): B = 0.7*0.8 - 0.3*0.8 = 0.32, C = 0.7*0.6 - 0.3*0.6 = 0.24 -> B.
    assert mmr_select(QUERY, CANDIDATES, k=3, diversity=0.3) == ["A", "B", "C"]


def test_strong_diversity_prefers_the_dissimilar_candidate() -> None:
    # After A (lambda = 0.4): B = 0.4*0.8 - 0.6*0.8 = -0.16, C = 0.4*0.6 - 0.6*0.6 = -0.12 -> C.
    assert mmr_select(QUERY, CANDIDATES, k=3, diversity=0.6) == ["A", "C", "B"]
    # Full diversity still starts from the most relevant candidate.
    assert mmr_select(QUERY, CANDIDATES, k=3, diversity=1.0) == ["A", "C", "B"]


def test_tie_goes_to_earlier_candidate() -> None:
    # diversity 0.5 after A: B = 0.5*0.8 - 0.5*0.8 = 0 = C = 0.5*0.6 - 0.5*0.6.
    assert mmr_select(QUERY, CANDIDATES, k=2, diversity=0.5) == ["A", "B"]


def test_given_relevance_overrides_cosine() -> None:
    # C's relevance 2.0 makes it the seed; then (lambda = 0.7) A = 0.7*1.0 - 0.3*0.6 = 0.52,
    # B = 0.7*0.8 - 0.3*0.0 = 0.56 -> B.
    candidates: list[Candidate] = [CANDIDATES[0], CANDIDATES[1], ("C", [0.6, -0.8], 2.0)]
    assert mmr_select(QUERY, candidates, k=3, diversity=0.3) == ["C", "B", "A"]


def test_vectors_need_not_be_normalised() -> None:
    scaled: list[Candidate] = [(i, [5 * x for x in v], r) for i, v, r in CANDIDATES]
    assert mmr_select([3.0, 0.0], scaled, k=3, diversity=0.6) == ["A", "C", "B"]


def test_near_duplicates_are_skipped() -> None:
    candidates: list[Candidate] = [
        ("d1", [1.0, 0.01, 0.0], None),
        ("d2", [1.0, 0.02, 0.0], None),
        ("x", [0.7, 0.0, 0.7], None),
    ]
    assert mmr_select([1.0, 0.0, 0.0], candidates, k=2, diversity=0.0) == ["d1", "d2"]
    assert mmr_select([1.0, 0.0, 0.0], candidates, k=2, diversity=0.5) == ["d1", "x"]


def test_limits_and_degenerate_inputs() -> None:
    assert mmr_select(QUERY, CANDIDATES, k=1, diversity=0.3) == ["A"]
    assert mmr_select(QUERY, CANDIDATES, k=10, diversity=0.3) == ["A", "B", "C"]
    assert mmr_select(QUERY, CANDIDATES, k=0, diversity=0.3) == []
    assert mmr_select(QUERY, [], k=3, diversity=0.3) == []
    # A zero vector has similarity 0 to everything instead of NaN.
    zero: list[Candidate] = [("z", [0.0, 0.0], None), ("A", [1.0, 0.0], None)]
    assert mmr_select(QUERY, zero, k=2, diversity=0.3) == ["A", "z"]


def test_invalid_diversity() -> None:
    with pytest.raises(ValueError, match="diversity"):
        mmr_select(QUERY, CANDIDATES, k=1, diversity=1.5)
