"""Adaptation end to end with the real bundled model: it learns the jargon, the gate judges it, the switch holds."""

from __future__ import annotations

from adaptation.gate import judge
from adaptation.pairs import relevant_sources
from app.components import build_components
from ingest.pipeline import IngestItem
from kernel.models import Document, SearchMode, Section
from kernel.payload import DENSE_VECTOR
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.spaces import space_record
from tests.adaptation import corpus
from tests.adaptation.conftest import COLLECTION, Adapted


def _top_source(adapted: Adapted, text: str, space: str | None, mode: SearchMode = SearchMode.HYBRID) -> str:
    hits = adapted.components.search.searcher.search(text, collection=COLLECTION, k=1, mode=mode, space=space).hits
    return hits[0].source


def test_adapted_model_beats_base_on_held_apart_queries(adapted: Adapted) -> None:
    report = adapted.report
    gate = report.gate
    assert gate is not None
    assert report.active, report.reason
    assert gate.passed and gate.delta_ci[0] > 0
    assert gate.queries == report.queries["held_apart"] > 0
    assert gate.adapted_ndcg > gate.base_ndcg + 0.1
    assert report.train is not None and report.train.last_loss < report.train.first_loss
    assert report.reembed_points == len(corpus.items())
    # The collection now searches the adapted space by default.
    record = space_record(adapted.components.search.store.get_metadata(COLLECTION))
    assert record.active is not None and record.active.name == report.space and record.staging is None
    assert adapted.components.search.store.dense_spaces(COLLECTION) == [DENSE_VECTOR, report.space]
    # A rerun on the unchanged collection with the same pairs mines the same triples: nothing to do.
    again = adapted.adapter.adapt(COLLECTION, corpus.queries())
    assert again.active and again.reason == "already active"
    assert again.version == report.version and again.train is None


def test_default_search_uses_the_adapted_space(adapted: Adapted) -> None:
    queries = corpus.queries()
    dense = SearchMode.DENSE
    base_right = sum(_top_source(adapted, q.text, DENSE_VECTOR, dense) in q.sources for q in queries)
    default_right = sum(_top_source(adapted, q.text, None, dense) in q.sources for q in queries)
    adapted_right = sum(_top_source(adapted, q.text, adapted.report.space, dense) in q.sources for q in queries)
    assert default_right == adapted_right > base_right


def test_new_documents_get_adapted_vectors(adapted: Adapted) -> None:
    text = "Cairo office report. This note covers invoices, billing runs and unpaid accounts receivable at Cairo."
    document = Document(
        source="late.txt", format="txt", title="Cairo", text=text, sections=[Section(start=0, end=len(text))]
    )
    outcomes = adapted.components.ingest.ingestor.ingest(
        [IngestItem(document=document, source_key="late.txt")], collection=COLLECTION, synthesize=False
    )
    assert outcomes[0].status == "indexed"
    store = adapted.components.search.store
    assert store.scan(COLLECTION, offset=None, limit=100, missing=adapted.report.space)[0] == []
    assert _top_source(adapted, "blorvex Cairo", None, SearchMode.DENSE) == "late.txt"


def test_restart_keeps_the_choice(adapted: Adapted, embedder: SentenceTransformerEmbedder) -> None:
    query = corpus.queries()[5].text
    before = [h.id for h in adapted.components.search.searcher.search(query, collection=COLLECTION, k=5).hits]
    adapted.components.close()
    reopened = build_components(adapted.settings, embedder=embedder)
    try:
        space, _ = reopened.search.spaces.for_search(COLLECTION)
        assert space == adapted.report.space
        after = [h.id for h in reopened.search.searcher.search(query, collection=COLLECTION, k=5).hits]
        assert after == before
    finally:
        reopened.close()


def test_relevant_sources_of_chunk_queries(adapted: Adapted) -> None:
    passages = adapted.adapter.passages(COLLECTION)
    some = next(iter(passages.values()))
    query = corpus.queries()[0].model_copy(update={"sources": frozenset(), "chunks": frozenset([some.id])})
    assert relevant_sources(query, passages) == {some.source}


def test_the_gate_compares_with_the_space_in_use(adapted: Adapted) -> None:
    # A model no better than the active adapted one is refused even though it beats the base model.
    passages = adapted.adapter.passages(COLLECTION)
    held = corpus.queries()[:12]
    space = adapted.report.space
    searcher = adapted.components.search.searcher
    same = judge(
        searcher, COLLECTION, held, passages, space=space, baseline=space, mode=SearchMode.HYBRID, confidence=0.95
    )
    assert same.baseline == space and same.delta == 0 and not same.passed
    assert "the active adapted" in same.reason
