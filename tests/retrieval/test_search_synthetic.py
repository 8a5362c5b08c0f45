"""Fusion of chunk and synthetic-item rankings: collapse onto parent chunks, bounded influence of a bad teacher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.components import Components
from ingest.files import collect_files, load_item
from kernel import payload as P
from kernel.ids import synthetic_point_id
from kernel.models import PointKind, SearchFilters, SearchMode, StoredPoint
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.conftest import make_components
from tests.fixtures_docs import write_sample_folder
from tests.retrieval.conftest import store_query

QUERY = "honey bees in the hive"


@pytest.fixture
def indexed(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Components]:
    settings = Settings(data_dir=tmp_path / "data", synth={"weight": 0.5}, rrf_k=10)
    components = make_components(settings, embedder)
    folder = tmp_path / "docs"
    folder.mkdir()
    write_sample_folder(folder)
    found, _ = collect_files([folder])
    components.ingest.ingestor.ingest((load_item(f) for f in found), collection="c")
    yield components
    components.close()


def _chunk_payload(components: Components, chunk_id: str) -> dict[str, Any]:
    every_chunk = store_query(
        SearchMode.DENSE,
        limit=1000,
        dense=components.search.embedder.embed(["x"])[0],
        filters=SearchFilters(kinds=[PointKind.CHUNK]),
    )
    return next(p.payload for p in components.search.store.query("c", every_chunk) if p.id == chunk_id)


def _plant(components: Components, parent_id: str, text: str, kind: PointKind = PointKind.QUESTION) -> None:
    """Store a synthetic item for a chunk, bypassing the filter (what a bad teacher would write)."""
    parent = _chunk_payload(components, parent_id)
    payload = {**parent, P.KIND: kind.value, P.TEXT: text, P.PARENT_TEXT: parent[P.TEXT], P.CHUNK_ID: parent_id}
    point = StoredPoint(
        id=synthetic_point_id(parent_id=parent_id, kind=kind.value, text=text),
        dense=components.search.embedder.embed([text])[0],
        sparse=components.search.sparse.encode_documents([text], avg_len=20.0)[0],
        payload=payload,
    )
    components.search.store.upsert("c", [point])


def test_without_synthetic_items_fused_search_equals_chunk_search(indexed: Components) -> None:
    fused = indexed.search.searcher.search(QUERY, collection="c", k=5, synthetic=True)
    raw = indexed.search.searcher.search(QUERY, collection="c", k=5, synthetic=False)
    assert [h.id for h in fused.hits] == [h.id for h in raw.hits]


def test_a_bad_teacher_moves_a_wrong_chunk_up_by_a_bounded_amount(indexed: Components) -> None:
    k = 5
    raw = [h.id for h in indexed.search.searcher.search(QUERY, collection="c", k=50, synthetic=False).hits]
    wrong = raw[-1]  # the least related chunk gets items that repeat the query word for word
    _plant(indexed, wrong, QUERY)
    _plant(indexed, wrong, QUERY + "?", kind=PointKind.SUMMARY)
    hits = indexed.search.searcher.search(QUERY, collection="c", k=k, synthetic=True).hits
    fused = [h.id for h in hits]
    assert len(set(fused)) == len(fused)  # two items of one chunk collapse onto it
    assert raw[0] in fused[:2]
    assert set(raw[: k - 1]) <= set(fused)  # one bad chunk displaces at most one good hit
    assert wrong in fused  # it did get lifted: the test is not vacuous
    lifted = next(h for h in hits if h.id == wrong)
    assert lifted.kind == "chunk" and lifted.matched_text is not None and lifted.matched_text.startswith(QUERY)
    assert lifted.text == _chunk_payload(indexed, wrong)[P.TEXT]  # the chunk's text, not the item's


def test_kinds_filter_searches_exactly_those_kinds(indexed: Components) -> None:
    raw = indexed.search.searcher.search(QUERY, collection="c", k=1, synthetic=False).hits[0]
    _plant(indexed, raw.id, "Where do worker bees live?")
    only_questions = indexed.search.searcher.search(
        QUERY, collection="c", k=5, filters=SearchFilters(kinds=[PointKind.QUESTION])
    ).hits
    assert [h.kind for h in only_questions] == ["question"]
    assert only_questions[0].text == "Where do worker bees live?"
