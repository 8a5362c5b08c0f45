"""Ingest orchestrator on real parts: idempotent re-ingest, replacement, deletion, BM25 counts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from app.components import Components
from ingest.bm25_stats import Bm25Stats
from ingest.pipeline import IngestItem
from kernel import payload as P
from kernel.errors import InvalidRequestError
from kernel.models import Document, PointKind, SearchFilters, SearchMode, Section
from tests.retrieval.conftest import store_query

COLLECTION = "docs"


def _doc(text: str, source: str = "notes.txt") -> IngestItem:
    document = Document(
        source=source, format="txt", title=source, text=text, sections=[Section(start=0, end=len(text))]
    )
    return IngestItem(document=document, source_key=source, tags=["team-a"])


LONG = " ".join(f"Sentence number {i} talks about honey bees and their hives." for i in range(80))


def test_first_ingest_indexes_and_stores_every_chunk(services: Components) -> None:
    [outcome] = services.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    assert outcome.status == "indexed"
    assert outcome.chunks > 1
    assert services.search.store.count(COLLECTION) == outcome.chunks
    ids = services.search.store.document_point_ids(COLLECTION, outcome.document_id or "")
    assert len(ids) == outcome.chunks


def test_reingest_unchanged_writes_nothing(services: Components) -> None:
    [first] = services.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    before = services.search.store.document_point_ids(COLLECTION, first.document_id or "")
    calls: list[int] = []
    original = services.search.store.upsert

    def counting_upsert(collection: str, points: object) -> None:
        calls.append(1)
        original(collection, points)  # type: ignore[arg-type]

    services.search.store.upsert = counting_upsert  # type: ignore[method-assign]
    [second] = services.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    assert second.status == "unchanged"
    assert second.document_id == first.document_id
    assert calls == []
    assert services.search.store.document_point_ids(COLLECTION, first.document_id or "") == before


def test_changed_document_replaces_old_points_without_orphans(services: Components) -> None:
    [first] = services.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    old_ids = services.search.store.document_point_ids(COLLECTION, first.document_id or "")
    changed = "A new first paragraph about volcanoes.\n\n" + LONG.replace("honey bees", "wasps")
    [second] = services.ingest.ingestor.ingest([_doc(changed)], collection=COLLECTION)
    assert second.status == "indexed"
    assert second.document_id == first.document_id
    new_ids = services.search.store.document_point_ids(COLLECTION, first.document_id or "")
    assert len(new_ids) == second.chunks
    assert services.search.store.count(COLLECTION) == second.chunks
    assert not (old_ids - new_ids) & services.search.store.document_point_ids(COLLECTION, first.document_id or "")
    hits = services.search.searcher.search("wasps", collection=COLLECTION, k=50).hits
    assert hits and all("honey bees" not in h.text for h in hits)


def test_other_documents_untouched_by_replacement_and_delete(services: Components) -> None:
    outcomes = services.ingest.ingestor.ingest(
        [_doc(LONG, "a.txt"), _doc("Chess openings: the Sicilian defence.", "b.txt")], collection=COLLECTION
    )
    a, b = outcomes
    b_ids = services.search.store.document_point_ids(COLLECTION, b.document_id or "")
    services.ingest.ingestor.ingest([_doc("Short new version.", "a.txt")], collection=COLLECTION)
    assert services.search.store.document_point_ids(COLLECTION, b.document_id or "") == b_ids
    removed = services.search.store.delete_document(COLLECTION, a.document_id or "")
    assert removed == 1
    assert services.search.store.count(COLLECTION) == len(b_ids)


def test_tag_change_rewrites_points(services: Components) -> None:
    [first] = services.ingest.ingestor.ingest([_doc("Tagged text about tea.")], collection=COLLECTION)
    retagged = _doc("Tagged text about tea.").model_copy(update={"tags": ["team-b"]})
    [second] = services.ingest.ingestor.ingest([retagged], collection=COLLECTION)
    assert second.status == "indexed"
    [hit] = services.search.searcher.search("tea", collection=COLLECTION, k=5).hits
    assert hit.tags == ["team-b"]
    assert services.search.store.count(COLLECTION) == first.chunks


def test_collection_built_with_another_model_is_refused(services: Components) -> None:
    services.ingest.ingestor.prepare(COLLECTION)
    meta = services.search.store.get_metadata(COLLECTION)
    services.search.store.set_metadata(COLLECTION, {**meta, "embed_model": "some-other-model"})
    with pytest.raises(InvalidRequestError, match="some-other-model"):
        services.ingest.ingestor.ingest([_doc("x")], collection=COLLECTION)
    assert services.search.store.count(COLLECTION) == 0


def _bm25_counts(services: Components, collection: str) -> tuple[int, int]:
    row = (
        services.ingest.db.read()
        .execute("SELECT total_len, docs FROM bm25_stats WHERE collection=?", (collection,))
        .fetchone()
    )
    return (int(row["total_len"]), int(row["docs"])) if row is not None else (0, 0)


def _chunk_lengths(services: Components, collection: str) -> list[int]:
    """BM25 lengths of every stored chunk."""
    query = store_query(
        SearchMode.DENSE,
        limit=1000,
        dense=services.search.embedder.embed(["x"])[0],
        filters=SearchFilters(kinds=[PointKind.CHUNK]),
    )
    return services.search.sparse.lengths([p.payload[P.TEXT] for p in services.search.store.query(collection, query)])


def test_bm25_counts_cover_every_stored_chunk(services: Components) -> None:
    services.ingest.ingestor.ingest(
        [_doc(LONG, "a.txt"), _doc("Chess openings: the Sicilian.", "b.txt")], collection=COLLECTION
    )
    lengths = _chunk_lengths(services, COLLECTION)
    assert _bm25_counts(services, COLLECTION) == (sum(lengths), len(lengths))
    assert Bm25Stats(services.ingest.db).average(COLLECTION) == pytest.approx(sum(lengths) / len(lengths))


def test_bm25_counts_adopt_the_old_metadata_counters(services: Components) -> None:
    # A collection built before the bm25_stats table: its counters live in collection metadata.
    services.search.store.ensure_collection(COLLECTION, dim=services.search.embedder.dim)
    legacy = {"embed_model": services.search.embedder.model_id, "bm25_total_len": 5000, "bm25_docs": 50}
    services.search.store.set_metadata(COLLECTION, legacy)
    services.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    lengths = _chunk_lengths(services, COLLECTION)
    assert _bm25_counts(services, COLLECTION) == (5000 + sum(lengths), 50 + len(lengths))
    services.ingest.ingestor.ingest([_doc("Chess openings: the Sicilian.", "b.txt")], collection=COLLECTION)
    lengths = _chunk_lengths(services, COLLECTION)
    assert _bm25_counts(services, COLLECTION) == (5000 + sum(lengths), 50 + len(lengths))  # adopted once


def test_a_recreated_collection_counts_from_zero(services: Components) -> None:
    services.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    services.search.store.drop_collection(COLLECTION)
    services.ingest.ingestor.ingest([_doc("Chess openings: the Sicilian.", "b.txt")], collection=COLLECTION)
    lengths = _chunk_lengths(services, COLLECTION)
    assert _bm25_counts(services, COLLECTION) == (sum(lengths), len(lengths))


def test_concurrent_ingests_into_a_new_collection_count_every_chunk(services: Components) -> None:
    # The threads may all find the collection new: one claims it, and no thread's counts are reset away.
    topics = ["bees", "chess", "tides", "glaciers", "violins", "bread", "comets", "ferns"]
    items = [_doc(f"A short note about {t}, and {t} again.", f"{t}.txt") for t in topics]
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        list(pool.map(lambda item: services.ingest.ingestor.ingest([item], collection="fresh"), items))
    lengths = _chunk_lengths(services, "fresh")
    assert len(lengths) == len(topics)
    assert _bm25_counts(services, "fresh") == (sum(lengths), len(lengths))
