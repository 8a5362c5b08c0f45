"""Ingest orchestrator on real parts: idempotent re-ingest, replacement, deletion, BM25 counts."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.components import Components
from ingest.bm25_stats import Bm25Stats
from ingest.pipeline import IngestItem
from kernel import payload as P
from kernel.errors import InvalidRequestError
from kernel.models import Document, PointKind, SearchFilters, SearchMode, Section, StoredPoint
from tests.retrieval.conftest import store_query

COLLECTION = "docs"


def _doc(text: str, source: str = "notes.txt") -> IngestItem:
    document = Document(
        source=source, format="txt", title=source, text=text, sections=[Section(start=0, end=len(text))]
    )
    return IngestItem(document=document, source_key=source, tags=["team-a"])


LONG = " ".join(f"Sentence number {i} talks about honey bees and their hives." for i in range(80))


def test_first_ingest_indexes_and_stores_every_chunk(components: Components) -> None:
    [outcome] = components.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    assert outcome.status == "indexed"
    assert outcome.chunks > 1
    assert components.search.store.count(COLLECTION) == outcome.chunks
    ids = components.search.store.document_point_ids(COLLECTION, outcome.document_id or "")
    assert len(ids) == outcome.chunks


def test_reingest_unchanged_writes_nothing(components: Components) -> None:
    [first] = components.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    before = components.search.store.document_point_ids(COLLECTION, first.document_id or "")
    calls: list[int] = []
    original = components.search.store.upsert

    def counting_upsert(collection: str, points: object) -> None:
        calls.append(1)
        original(collection, points)  # type: ignore[arg-type]

    components.search.store.upsert = counting_upsert  # type: ignore[method-assign]
    [second] = components.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    assert second.status == "unchanged"
    assert second.document_id == first.document_id
    assert calls == []
    assert components.search.store.document_point_ids(COLLECTION, first.document_id or "") == before


def test_changed_document_replaces_old_points_without_orphans(components: Components) -> None:
    [first] = components.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    old_ids = components.search.store.document_point_ids(COLLECTION, first.document_id or "")
    changed = "A new first paragraph about volcanoes.\n\n" + LONG.replace("honey bees", "wasps")
    [second] = components.ingest.ingestor.ingest([_doc(changed)], collection=COLLECTION)
    assert second.status == "indexed"
    assert second.document_id == first.document_id
    new_ids = components.search.store.document_point_ids(COLLECTION, first.document_id or "")
    assert len(new_ids) == second.chunks
    assert components.search.store.count(COLLECTION) == second.chunks
    assert not (old_ids - new_ids) & components.search.store.document_point_ids(COLLECTION, first.document_id or "")
    hits = components.search.searcher.search("wasps", collection=COLLECTION, k=50).hits
    assert hits and all("honey bees" not in h.text for h in hits)


def test_other_documents_untouched_by_replacement_and_delete(components: Components) -> None:
    outcomes = components.ingest.ingestor.ingest(
        [_doc(LONG, "a.txt"), _doc("Chess openings: the Sicilian defence.", "b.txt")], collection=COLLECTION
    )
    a, b = outcomes
    b_ids = components.search.store.document_point_ids(COLLECTION, b.document_id or "")
    components.ingest.ingestor.ingest([_doc("Short new version.", "a.txt")], collection=COLLECTION)
    assert components.search.store.document_point_ids(COLLECTION, b.document_id or "") == b_ids
    removed = components.search.store.delete_document(COLLECTION, a.document_id or "")
    assert removed == 1
    assert components.search.store.count(COLLECTION) == len(b_ids)


def test_tag_change_rewrites_points(components: Components) -> None:
    [first] = components.ingest.ingestor.ingest([_doc("Tagged text about tea.")], collection=COLLECTION)
    retagged = _doc("Tagged text about tea.").model_copy(update={"tags": ["team-b"]})
    [second] = components.ingest.ingestor.ingest([retagged], collection=COLLECTION)
    assert second.status == "indexed"
    [hit] = components.search.searcher.search("tea", collection=COLLECTION, k=5).hits
    assert hit.tags == ["team-b"]
    assert components.search.store.count(COLLECTION) == first.chunks


def test_collection_built_with_another_model_is_refused(components: Components) -> None:
    components.ingest.ingestor.prepare(COLLECTION)
    meta = components.search.store.get_metadata(COLLECTION)
    components.search.store.set_metadata(COLLECTION, {**meta, "embed_model": "some-other-model"})
    with pytest.raises(InvalidRequestError, match="some-other-model"):
        components.ingest.ingestor.ingest([_doc("x")], collection=COLLECTION)
    assert components.search.store.count(COLLECTION) == 0


def _bm25_counts(components: Components, collection: str) -> tuple[int, int]:
    row = (
        components.ingest.db.read()
        .execute("SELECT total_len, docs FROM bm25_stats WHERE collection=?", (collection,))
        .fetchone()
    )
    return (int(row["total_len"]), int(row["docs"])) if row is not None else (0, 0)


def _chunk_lengths(components: Components, collection: str) -> list[int]:
    """BM25 lengths of every stored chunk."""
    query = store_query(
        SearchMode.DENSE,
        limit=1000,
        dense=components.search.embedder.embed(["x"])[0],
        filters=SearchFilters(kinds=[PointKind.CHUNK]),
    )
    return components.search.sparse.lengths(
        [p.payload[P.TEXT] for p in components.search.store.query(collection, query)]
    )


def test_bm25_counts_cover_every_stored_chunk(components: Components) -> None:
    components.ingest.ingestor.ingest(
        [_doc(LONG, "a.txt"), _doc("Chess openings: the Sicilian.", "b.txt")], collection=COLLECTION
    )
    lengths = _chunk_lengths(components, COLLECTION)
    assert _bm25_counts(components, COLLECTION) == (sum(lengths), len(lengths))
    assert Bm25Stats(components.ingest.db).average(COLLECTION) == pytest.approx(sum(lengths) / len(lengths))


def test_bm25_counts_adopt_the_old_metadata_counters(components: Components) -> None:
    # A collection built before the bm25_stats table: its counters live in collection metadata.
    components.search.store.ensure_collection(COLLECTION, dim=components.search.embedder.dim)
    legacy = {"embed_model": components.search.embedder.model_id, "bm25_total_len": 5000, "bm25_docs": 50}
    components.search.store.set_metadata(COLLECTION, legacy)
    components.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    lengths = _chunk_lengths(components, COLLECTION)
    assert _bm25_counts(components, COLLECTION) == (5000 + sum(lengths), 50 + len(lengths))
    components.ingest.ingestor.ingest([_doc("Chess openings: the Sicilian.", "b.txt")], collection=COLLECTION)
    lengths = _chunk_lengths(components, COLLECTION)
    assert _bm25_counts(components, COLLECTION) == (5000 + sum(lengths), 50 + len(lengths))  # adopted once


def test_a_recreated_collection_counts_from_zero(components: Components) -> None:
    components.ingest.ingestor.ingest([_doc(LONG)], collection=COLLECTION)
    components.search.store.drop_collection(COLLECTION)
    components.ingest.ingestor.ingest([_doc("Chess openings: the Sicilian.", "b.txt")], collection=COLLECTION)
    lengths = _chunk_lengths(components, COLLECTION)
    assert _bm25_counts(components, COLLECTION) == (sum(lengths), len(lengths))


def test_concurrent_ingests_into_a_new_collection_count_every_chunk(components: Components) -> None:
    # The threads may all find the collection new: one claims it, and no thread's counts are reset away.
    topics = ["bees", "chess", "tides", "glaciers", "violins", "bread", "comets", "ferns"]
    items = [_doc(f"A short note about {t}, and {t} again.", f"{t}.txt") for t in topics]
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        list(pool.map(lambda item: components.ingest.ingestor.ingest([item], collection="fresh"), items))
    lengths = _chunk_lengths(components, "fresh")
    assert len(lengths) == len(topics)
    assert _bm25_counts(components, "fresh") == (sum(lengths), len(lengths))


def test_each_chunk_keeps_its_own_vector_when_embedded_shortest_first(components: Components) -> None:
    # 90 one-chunk documents of very different lengths, in no length order: the Ingestor embeds them
    # sorted by length in 64-text calls and must put every vector back on its own chunk.
    words = ["glacier", "orchard", "lighthouse", "printing", "volcano", "harbour", "falcon", "quarry", "meadow"]
    texts = [
        f"Note {i} about the {words[i % 9]} " + " ".join(words[(i + j) % 9] for j in range((i * 37) % 60))
        for i in range(90)
    ]
    components.ingest.ingestor.ingest((_doc(t, f"n{i}.txt") for i, t in enumerate(texts)), collection=COLLECTION)
    searcher = components.search.searcher
    for i in (0, 1, 17, 45, 63, 64, 88):
        hit = searcher.search(texts[i], collection=COLLECTION, k=1, mode=SearchMode.DENSE).hits[0]
        assert hit.source == f"n{i}.txt" and hit.score > 0.999


def test_a_document_given_twice_in_one_call_keeps_only_its_later_version(components: Components) -> None:
    first, second = components.ingest.ingestor.ingest(
        [_doc(LONG, "twice.txt"), _doc("The replacement text about lighthouses.", "twice.txt")], collection=COLLECTION
    )
    assert (first.status, second.status) == ("indexed", "indexed")
    assert first.document_id == second.document_id
    stored = components.search.store.document_point_ids(COLLECTION, second.document_id or "")
    assert len(stored) == second.chunks == components.search.store.count(COLLECTION)
    [hit] = components.search.searcher.search("lighthouses", collection=COLLECTION, k=5).hits
    assert "lighthouses" in hit.text


def test_many_documents_are_planned_in_groups_with_the_right_outcomes(components: Components) -> None:
    # More documents than one planning group (ingest.planning.PLAN_GROUP): each is still compared with
    # its own stored points, so only the changed one is written again.
    texts = [f"Memo {i}: the {['orchard', 'harbour', 'quarry'][i % 3]} report number {i}." for i in range(70)]
    first = components.ingest.ingestor.ingest(
        (_doc(t, f"m{i}.txt") for i, t in enumerate(texts)), collection=COLLECTION
    )
    assert [o.status for o in first] == ["indexed"] * 70
    texts[66] = "Memo 66 was rewritten: it is about falcons now."
    again = components.ingest.ingestor.ingest(
        (_doc(t, f"m{i}.txt") for i, t in enumerate(texts)), collection=COLLECTION
    )
    assert [o.source for o in again if o.status == "indexed"] == ["m66.txt"]
    assert sum(o.status == "unchanged" for o in again) == 69
    assert components.search.store.count(COLLECTION) == 70


def test_synthetic_points_beside_chunks_go_only_with_a_new_version(components: Components) -> None:
    # Older collections kept synthetic items beside the chunks: a new version of the document
    # removes them, an unchanged re-ingest leaves them.
    [outcome] = components.ingest.ingestor.ingest([_doc("Bees keep the hive at 35 degrees.")], collection=COLLECTION)
    store, embedder = components.search.store, components.search.embedder
    text = "At what temperature do bees keep the hive?"
    [sparse] = components.search.sparse.encode_documents([text], avg_len=8.0)
    payload = {P.DOCUMENT_ID: outcome.document_id, P.KIND: PointKind.QUESTION.value, P.TEXT: text}
    question = StoredPoint(id=str(uuid.uuid4()), dense=embedder.embed([text])[0], sparse=sparse, payload=payload)
    store.upsert(COLLECTION, [question])
    components.ingest.ingestor.ingest([_doc("Bees keep the hive at 35 degrees.")], collection=COLLECTION)
    assert question.id in store.document_point_ids(COLLECTION, outcome.document_id or "")
    components.ingest.ingestor.ingest([_doc("Bees keep the hive at 34 degrees.")], collection=COLLECTION)
    kinds = store.documents_point_kinds(COLLECTION, [outcome.document_id or ""])
    assert list(kinds[outcome.document_id or ""].values()) == ["chunk"]
