"""Raw-first re-ranking as pure functions: the movement bound as a property, strength 0 as the identity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.rerank import clamp_evidence, combine, max_shift, raw_first_order

ids = st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=4), min_size=0, max_size=40, unique=True)
evidence_value = st.floats(min_value=-2.0, max_value=3.0) | st.just(math.nan)
strengths = st.floats(min_value=0.0, max_value=12.0, allow_nan=False)


@settings(max_examples=500, deadline=None)
@given(raw=ids, data=st.data(), strength=strengths)
def test_no_candidate_moves_more_than_the_bound(raw: list[str], data: st.DataObject, strength: float) -> None:
    evidence = {cid: data.draw(evidence_value) for cid in raw if data.draw(st.booleans())}
    ordered = raw_first_order(raw, evidence, strength=strength)
    assert sorted(ordered) == sorted(raw)  # a permutation: nothing enters, nothing is lost
    bound = max_shift(strength)
    assert all(abs(raw.index(cid) - position) <= bound for position, cid in enumerate(ordered))


@settings(max_examples=200, deadline=None)
@given(raw=ids, data=st.data())
def test_strength_zero_returns_the_raw_order(raw: list[str], data: st.DataObject) -> None:
    evidence = {cid: data.draw(evidence_value) for cid in raw}
    assert raw_first_order(raw, evidence, strength=0.0) == raw


@settings(max_examples=200, deadline=None)
@given(raw=ids, data=st.data(), lam=strengths, alpha=strengths)
def test_combined_signals_keep_the_bound_of_their_sum(
    raw: list[str], data: st.DataObject, lam: float, alpha: float
) -> None:
    items = {cid: data.draw(evidence_value) for cid in raw}
    expansion = {cid: data.draw(evidence_value) for cid in raw}
    strength, merged = combine([(lam, items), (alpha, expansion)])
    assert math.isclose(strength, lam + alpha)
    ordered = raw_first_order(raw, merged, strength=strength)
    assert all(abs(raw.index(cid) - p) <= max_shift(lam + alpha) for p, cid in enumerate(ordered))


def test_the_bound_is_reached() -> None:
    raw = ["a", "b", "c", "d", "e"]
    # Full evidence on the last candidate, none elsewhere: at strength 3.5 it climbs exactly 3 places.
    assert raw_first_order(raw, {"e": 1.0}, strength=3.5) == ["a", "e", "b", "c", "d"]
    assert max_shift(3.5) == 3
    assert raw_first_order(raw, {"e": 1.0}, strength=1.0) == raw  # strength <= 1 moves nothing


def test_evidence_is_clamped_and_strength_validated() -> None:
    assert clamp_evidence(float("nan")) == 0.0
    assert clamp_evidence(7.0) == 1.0
    assert clamp_evidence(-1.0) == 0.0
    with pytest.raises(ValueError, match="strength"):
        raw_first_order(["a"], {}, strength=-1.0)
    assert combine([(0.0, {"a": 1.0})]) == (0.0, {})
