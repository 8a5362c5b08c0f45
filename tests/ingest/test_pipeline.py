"""Ingest orchestrator on real parts: idempotent re-ingest, replacement, deletion."""

from __future__ import annotations

import pytest

from app.components import Components
from ingest.pipeline import IngestItem
from kernel.errors import InvalidRequestError
from kernel.models import Document, Section

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
    removed = services.ingest.ingestor.delete_document(COLLECTION, a.document_id or "")
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
