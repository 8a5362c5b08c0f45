"""``automatic``: what ``diversity: auto`` gives from cross-fitted coverage orders, per query."""

from __future__ import annotations

from evaluation.coverage_fit import QueryRows, automatic
from kernel.models import Hit


def _at(doc: str, index: int) -> Hit:
    return Hit(id=f"{doc}-{index}", score=1.0, text=doc, document_id=doc, source=f"{doc}.txt", chunk_index=index)


def _rows(hits: list[Hit], vectors: dict[str, list[float]]) -> QueryRows:
    return QueryRows(hits=hits, dense=[], sparse=[], vectors=vectors, features={})


def test_auto_keeps_coverage_over_short_documents_and_sets_back_repeats_over_long_ones() -> None:
    short = [_at("a", 0), _at("b", 0), _at("a", 1)]
    # Long documents (chunk index >= 8) hold every candidate; b-12 repeats a-10 (same vector).
    long = [_at("a", 10), _at("b", 12), _at("c", 9), _at("d", 30)]
    rows = {
        "short": _rows(short, {}),
        "long": _rows(long, {"a-10": [1.0, 0.0], "b-12": [1.0, 0.0], "c-9": [0.0, 1.0], "d-30": [0.6, 0.8]}),
    }
    covered = {"short": [short[1], short[0], short[2]], "long": list(reversed(long))}
    out = automatic(rows, covered, candidates=3, similarity=0.9, long_document=8)
    assert out["short"] == covered["short"]
    # Near-duplicates over the 3 candidates (b-12 set back), the tail (d-30) untouched.
    assert [h.id for h in out["long"]] == ["a-10", "c-9", "b-12", "d-30"]
