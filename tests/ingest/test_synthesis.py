"""The synthesis stage end to end with the real bundled SmolLM2 teacher, embedder and embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.components import Components, build_components
from ingest.pipeline import IngestItem
from kernel import payload as P
from kernel.errors import ModelError
from kernel.models import (
    SYNTHETIC_KINDS,
    Document,
    PointKind,
    SearchFilters,
    SearchMode,
    Section,
)
from kernel.settings import Settings
from kernel.tenancy import synthetic_collection
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.rerank import RerankParams
from tests.fakes import CountingChat, ScriptedChats
from tests.fixtures_docs import BEEKEEPING, CHESS, LIGHTHOUSES
from tests.retrieval.conftest import store_query

pytestmark = pytest.mark.slow


def _item(name: str, paragraphs: list[str]) -> IngestItem:
    text = "\n\n".join(paragraphs)
    doc = Document(source=name, format="txt", title=name, text=text, sections=[Section(start=0, end=len(text))])
    return IngestItem(document=doc, source_key=name)


@pytest.fixture
def synth_settings(tmp_path: Path) -> Settings:
    # Every item kind: the bundled teacher's own profile generates none (its items did not help, README).
    return Settings(data_dir=tmp_path / "data", synth={"enabled": True, "generate": "all"})


@pytest.fixture
def teacher(counting_chat: CountingChat) -> CountingChat:
    return counting_chat


@pytest.fixture
def synth_components(
    synth_settings: Settings, embedder: SentenceTransformerEmbedder, teacher: CountingChat
) -> Iterator[Components]:
    built = build_components(synth_settings, embedder=embedder, teacher=teacher)
    yield built
    built.close()


def _synthetic_points(components: Components, collection: str, document_id: str) -> set[str]:
    companion = synthetic_collection(collection)
    return components.search.store.document_point_ids(companion, document_id, kinds=SYNTHETIC_KINDS)


def test_document_is_synthesized_filtered_stored_and_reported(
    synth_components: Components, teacher: CountingChat
) -> None:
    collection = "syn"
    items = [_item("bees.txt", BEEKEEPING), _item("chess.txt", CHESS), _item("lighthouses.txt", LIGHTHOUSES)]
    outcomes = synth_components.ingest.ingestor.ingest(items, collection=collection)
    assert [o.status for o in outcomes] == ["indexed"] * 3
    bees = outcomes[0]
    assert bees.synthetic is not None and bees.document_id is not None
    counts = bees.synthetic
    assert counts.chunks == bees.chunks and counts.chunks_failed == 0
    assert counts.generated == counts.kept + sum(counts.dropped.values()) > 0
    assert teacher.calls >= counts.chunks + 1  # one per chunk plus the document notes

    report = synth_components.ingest.reports.get(collection, bees.document_id)
    assert report is not None and report.counts == counts
    assert report.teacher == teacher.model_id and report.prompt_version.startswith("chunk.v1/")
    for item in report.items:
        assert item.kept == (item.reason is None)

    # Every stored synthetic point links to a chunk of its document and carries the chunk's text.
    chunk_ids = synth_components.search.store.document_point_ids(collection, bees.document_id, kinds=[PointKind.CHUNK])
    stored = _stored_synthetic(synth_components, collection, bees.document_id)
    assert stored, "some synthetic items should survive the filter"
    for point in stored:
        assert point.payload[P.CHUNK_ID] in chunk_ids
        assert point.payload[P.PARENT_TEXT] in "\n\n".join(BEEKEEPING)

    # Kept questions retrieve their own chunk among the collection's chunks (the round-trip filter).
    kept_questions = [i for i in report.items if i.kind == "question" and i.kept]
    for question in kept_questions:
        hits = synth_components.search.searcher.search(question.text, collection=collection, k=5, synthetic=False).hits
        assert any(h.document_id == bees.document_id and h.chunk_index == question.chunk_index for h in hits), question


def _stored_synthetic(components: Components, collection: str, document_id: str) -> list[Any]:
    """Every synthetic point of a document (a dense query far wider than its items)."""
    query = store_query(
        SearchMode.DENSE,
        limit=1000,
        dense=components.search.embedder.embed(["anything"])[0],
        filters=SearchFilters(document_ids=[document_id], kinds=list(SYNTHETIC_KINDS)),
    )
    return components.search.store.query(synthetic_collection(collection), query)


def test_reingest_costs_no_generation_and_a_new_version_replaces_synthetic_items(
    synth_components: Components, teacher: CountingChat
) -> None:
    collection = "syn"
    [first] = synth_components.ingest.ingestor.ingest([_item("chess.txt", CHESS)], collection=collection)
    assert first.synthetic is not None and first.document_id is not None
    calls = teacher.calls
    [again] = synth_components.ingest.ingestor.ingest([_item("chess.txt", CHESS)], collection=collection)
    assert again.status == "unchanged" and again.synthetic is None
    assert teacher.calls == calls

    old = _synthetic_points(synth_components, collection, first.document_id)
    changed = [*CHESS, "The French Defence answers 1.e4 with e6 and builds a solid pawn chain."]
    [new] = synth_components.ingest.ingestor.ingest([_item("chess.txt", changed)], collection=collection)
    assert new.status == "indexed" and new.synthetic is not None
    current = _synthetic_points(synth_components, collection, first.document_id)
    chunk_ids = synth_components.search.store.document_point_ids(collection, first.document_id, kinds=[PointKind.CHUNK])
    report = synth_components.ingest.reports.get(collection, first.document_id)
    assert report is not None and report.doc_version != ""
    assert old and current and not (old & current)
    for point in _stored_synthetic(synth_components, collection, first.document_id):
        assert point.payload[P.CHUNK_ID] in chunk_ids  # nothing left over from the old version


def test_failed_generation_keeps_raw_chunks_and_is_counted(
    synth_settings: Settings, embedder: SentenceTransformerEmbedder, scripted_chat: ScriptedChats
) -> None:
    broken = scripted_chat([ModelError("teacher unreachable (test)")], loop=True)
    components = build_components(
        synth_settings.model_copy(update={"synth": synth_settings.synth.model_copy(update={"max_attempts": 2})}),
        embedder=embedder,
        teacher=broken,
    )
    try:
        [outcome] = components.ingest.ingestor.ingest([_item("bees.txt", BEEKEEPING)], collection="syn")
        assert outcome.status == "indexed" and outcome.synthetic is not None
        assert outcome.synthetic.chunks_failed == outcome.synthetic.chunks == outcome.chunks
        # Two attempts per chunk, then two for the document notes, written from the document's opening.
        assert len(broken.calls) == 2 * outcome.chunks + 2
        assert outcome.document_id is not None
        report = components.ingest.reports.get("syn", outcome.document_id)
        assert report is not None and len(report.failures) == outcome.chunks
        assert "teacher unreachable" in report.failures[0].error
        hits = components.search.searcher.search("honey harvest extractor", collection="syn", k=3).hits
        assert hits and hits[0].source == "bees.txt"
    finally:
        components.close()


def test_search_reranks_chunks_with_the_real_teachers_items(synth_components: Components) -> None:
    collection = "syn"
    synth_components.ingest.ingestor.ingest(
        [_item("bees.txt", BEEKEEPING), _item("chess.txt", CHESS)], collection=collection
    )
    params = RerankParams(
        rerank_lambda=3.0, depth=10, kinds=(PointKind.QUESTION, PointKind.SUMMARY, PointKind.KEYWORDS)
    )
    hits = synth_components.search.searcher.search(
        "When is honey harvested?", collection=collection, k=10, rerank=params
    ).hits
    assert hits and all(h.kind == "chunk" for h in hits)
    assert len({h.id for h in hits}) == len(hits)
    assert hits[0].source == "bees.txt"
    matched = [h for h in hits if h.matched_kind is not None]
    assert matched, "synthetic items should add evidence to some hit"
    assert all(h.matched_kind in {"question", "summary", "keywords"} and h.matched_text for h in matched)
