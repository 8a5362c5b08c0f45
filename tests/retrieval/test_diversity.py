"""Diversity re-orderings: hand-made cases, and properties over any hit list (a permutation, bounded moves)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.models import Diversity, Hit
from kernel.settings import Settings
from retrieval.diversity import DiversityParams, cosine, diversify, near_duplicates, per_document, repeats, same_span


def hit(name: str, doc: str, start: int | None = None, end: int | None = None) -> Hit:
    return Hit(id=name, score=0.0, text=name, document_id=doc, source=doc, start=start, end=end)


def names(hits: Sequence[Hit]) -> list[str]:
    return [h.id for h in hits]


def documents_in_order(hits: Sequence[Hit]) -> list[str]:
    """The ranking collapsed to documents, as the BEIR evaluation scores it."""
    seen: list[str] = []
    for h in hits:
        if h.document_id not in seen:
            seen.append(h.document_id)
    return seen


def test_cosine_by_hand() -> None:
    assert cosine([1.0, 0.0], [1.0, 0.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [0.0, 2.0]) == pytest.approx(0.0)
    assert cosine([3.0, 4.0], [4.0, 3.0]) == pytest.approx(24 / 25)
    assert cosine([0.0, 0.0], [1.0, 0.0]) == 0.0


def test_same_span_needs_one_document_and_half_of_the_shorter_span() -> None:
    assert same_span(hit("a", "d", 0, 100), hit("b", "d", 50, 100))  # all of the shorter one
    assert same_span(hit("a", "d", 0, 100), hit("b", "d", 80, 120))  # 20 of 40: exactly half
    assert not same_span(hit("a", "d", 0, 100), hit("b", "d", 90, 130))  # 10 of 40
    assert not same_span(hit("a", "d", 0, 100), hit("b", "e", 0, 100))  # another document
    assert not same_span(hit("a", "d"), hit("b", "d"))  # no offsets, no span


def test_per_document_sets_back_a_documents_later_chunks() -> None:
    hits = [hit("a1", "A"), hit("a2", "A"), hit("b1", "B"), hit("a3", "A"), hit("c1", "C"), hit("b2", "B")]
    assert names(per_document(hits, cap=1)) == ["a1", "b1", "c1", "a2", "a3", "b2"]
    assert names(per_document(hits, cap=2)) == ["a1", "a2", "b1", "c1", "b2", "a3"]
    assert names(per_document(hits, cap=3)) == names(hits)


def scored(name: str, doc: str, score: float) -> Hit:
    return Hit(id=name, score=score, text=name, document_id=doc, source=doc)


def test_a_soft_cap_keeps_a_strong_second_chunk_ahead_of_a_weak_document() -> None:
    hits = [
        scored("a1", "A", 1.0),
        scored("a2", "A", 0.9),  # 0.9 * 0.75 = 0.675: behind b1 (0.8), ahead of c1 (0.5)
        scored("b1", "B", 0.8),
        scored("a3", "A", 0.7),  # 0.7 * 0.75**2 = 0.39: behind c1, ahead of d1
        scored("c1", "C", 0.5),
        scored("d1", "D", 0.2),
    ]
    assert names(per_document(hits, cap=1, decay=0.75)) == ["a1", "b1", "a2", "c1", "a3", "d1"]
    assert names(per_document(hits, cap=1)) == ["a1", "b1", "c1", "d1", "a2", "a3"]
    # Kept hits never change order, even when the ranking before was not by score (a preference).
    preferred = [scored("p1", "P", 0.1), scored("p2", "P", 0.09), scored("q1", "Q", 0.5)]
    assert names(per_document(preferred, cap=1, decay=0.5)) == ["p1", "q1", "p2"]
    negative = [scored("n1", "N", -0.1), scored("n2", "N", -0.2), scored("m1", "M", -0.3)]
    assert names(per_document(negative, cap=1, decay=0.5)) == [
        "n1",
        "m1",
        "n2",
    ]  # n2 scores -0.2 * 1.5 = -0.3: no better than m1


def test_near_duplicates_by_vector_and_by_span() -> None:
    hits = [hit("x", "A", 0, 100), hit("z", "A", 40, 90), hit("w", "C"), hit("y", "B")]
    vectors = {"x": [1.0, 0.0], "y": [0.0, 1.0], "z": [0.0, 1.0], "w": [0.95, 0.312]}
    # z shares its whole span with x (their vectors differ); w is at cosine 0.95 from x.
    assert names(near_duplicates(hits, vectors, similarity=0.9)) == ["x", "y", "z", "w"]
    assert repeats(hits[2], hits[:1], vectors, similarity=0.9)
    assert not repeats(hits[2], hits[:1], vectors, similarity=0.96)
    # Without vectors only the span counts.
    assert names(near_duplicates(hits, {}, similarity=0.9)) == ["x", "w", "y", "z"]


def test_near_duplicates_compare_with_kept_hits_only() -> None:
    # b repeats a (set back); c repeats b but not a: c is kept, b alone is set back.
    vectors = {"a": [1.0, 0.0], "b": [0.927, 0.375], "c": [0.719, 0.695]}  # 0, 22 and 44 degrees
    hits = [hit("a", "A"), hit("b", "B"), hit("c", "C")]
    assert cosine(vectors["b"], vectors["c"]) > 0.9 > cosine(vectors["a"], vectors["c"])
    assert names(near_duplicates(hits, vectors, similarity=0.9)) == ["a", "c", "b"]


def test_diversify_touches_only_the_candidates() -> None:
    hits = [hit("a1", "A"), hit("a2", "A"), hit("b1", "B"), hit("a3", "A"), hit("c1", "C")]
    params = DiversityParams(method=Diversity.PER_DOCUMENT, candidates=3)
    assert names(diversify(hits, params)) == ["a1", "b1", "a2", "a3", "c1"]
    assert diversify(hits, DiversityParams(method=Diversity.NONE)) == hits


def test_params_come_from_the_settings() -> None:
    settings = Settings(diversity_per_document=2, diversity_similarity=0.8, diversity_candidates=30)
    params = DiversityParams.of(settings, Diversity.NEAR_DUPLICATES)
    assert (params.method, params.per_document, params.similarity, params.candidates) == (
        Diversity.NEAR_DUPLICATES,
        2,
        0.8,
        30,
    )


_DOCS = st.sampled_from("ABCDE")
_HITS = st.lists(_DOCS, max_size=25).map(
    lambda docs: [hit(f"h{i}", d, 10 * i, 10 * i + 15) for i, d in enumerate(docs)]
)


@given(hits=_HITS, cap=st.integers(1, 4), candidates=st.integers(1, 30))
def test_per_document_only_reorders_and_keeps_the_document_ranking(hits: list[Hit], cap: int, candidates: int) -> None:
    out = diversify(hits, DiversityParams(method=Diversity.PER_DOCUMENT, per_document=cap, candidates=candidates))
    assert sorted(names(out)) == sorted(names(hits))  # a permutation: nothing dropped, nothing added
    assert documents_in_order(out) == documents_in_order(hits)  # a document's best chunk never moves down
    head = out[: min(candidates, len(hits))]
    kept = [h for h in head if sum(o.document_id == h.document_id for o in head[: head.index(h) + 1]) <= cap]
    assert head[: len(kept)] == kept  # the kept hits come first, in their order ...
    assert out[candidates:] == hits[candidates:]  # ... and nothing past the candidates moves
    for h in kept:  # a kept hit only moves up
        assert out.index(h) <= hits.index(h)


@given(
    hits=_HITS,
    angles=st.lists(st.floats(0.0, 3.14), min_size=25, max_size=25),
    similarity=st.floats(0.5, 1.0),
)
def test_near_duplicates_only_reorder_and_leave_no_repeat_before_a_kept_hit(
    hits: list[Hit], angles: list[float], similarity: float
) -> None:
    vectors = {h.id: [math.cos(a), math.sin(a)] for h, a in zip(hits, angles, strict=False)}
    out = near_duplicates(hits, vectors, similarity=similarity)
    assert sorted(names(out)) == sorted(names(hits))
    assert out[0:1] == hits[0:1]  # the best hit always stays first
    kept = [h for h in out if not repeats(h, out[: out.index(h)], vectors, similarity=similarity)]
    assert out[: len(kept)] == kept  # no kept hit repeats an earlier one, and they lead
    for h in kept:
        assert out.index(h) <= hits.index(h)


@given(hits=_HITS, cap=st.integers(1, 3), decay=st.floats(0.05, 0.95), scores=st.lists(st.floats(-1, 1), min_size=25))
def test_a_soft_cap_only_moves_set_back_hits_down_and_keeps_the_document_ranking(
    hits: list[Hit], cap: int, decay: float, scores: list[float]
) -> None:
    hits = [h.model_copy(update={"score": s}) for h, s in zip(hits, scores, strict=False)]
    out = per_document(hits, cap=cap, decay=decay)
    assert sorted(names(out)) == sorted(names(hits))
    assert documents_in_order(out) == documents_in_order(hits)
    seen: dict[str, int] = {}
    kept: list[Hit] = []
    for h in hits:
        seen[h.document_id] = seen.get(h.document_id, 0) + 1
        if seen[h.document_id] <= cap:
            kept.append(h)
            assert out.index(h) <= hits.index(h)  # a kept hit only moves up
        else:  # a set-back hit never overtakes a kept hit that was ahead of it
            assert all(out.index(k) < out.index(h) for k in kept)
    assert [h for h in out if h in kept] == kept  # the kept hits keep their order
