"""Diversity through the real searcher: off changes nothing, on re-orders the deeper search; answers use theirs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from answer.gate import GenerationGate
from answer.service import AnswerService
from app.components import Components
from ingest.files import collect_files, load_item
from kernel.models import Diversity, SearchMode
from kernel.settings import Settings
from retrieval.coverage import auto_method, cover, load_model
from retrieval.diversity import near_duplicates, per_document
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.search import Searcher
from tests.conftest import make_components
from tests.fakes import ScriptedChat
from tests.fixtures_docs import write_sample_folder

#: Words of every sample topic, so that several documents and several chunks of each rank.
BROAD = "honey bees hive volcano lava chess opening lighthouse keeper sourdough bread"
DEEP = 20
_ARMS = (SearchMode.DENSE, SearchMode.BM25)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[Components]:
    # Small chunks: every sample document becomes several, so a document can fill the top hits.
    root = tmp_path_factory.mktemp("diversity")
    settings = Settings(
        data_dir=root / "data",
        chunk_max_tokens=32,
        chunk_overlap_tokens=8,
        diversity_candidates=DEEP,
        answer_diversity=Diversity.PER_DOCUMENT,
    )
    components = make_components(settings, embedder)
    write_sample_folder(root / "docs")
    found, _ = collect_files([root / "docs"])
    components.ingest.ingestor.ingest((load_item(f) for f in found), collection="c")
    yield components
    components.close()


def _ids(components: Components, **kwargs: object) -> list[str]:
    return [h.id for h in components.search.searcher.search(BROAD, collection="c", **kwargs).hits]  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", list(SearchMode))
def test_diversity_none_is_the_search_of_before(indexed: Components, mode: SearchMode) -> None:
    plain = _ids(indexed, k=5, mode=mode)
    assert _ids(indexed, k=5, mode=mode, diversity=Diversity.NONE) == plain
    assert _ids(indexed, k=DEEP, mode=mode)[:5] == plain


@pytest.mark.parametrize("mode", [SearchMode.HYBRID, SearchMode.HYBRID_MMR])
def test_per_document_is_the_deeper_search_reordered(indexed: Components, mode: SearchMode) -> None:
    searcher = indexed.search.searcher
    deep = searcher.search(BROAD, collection="c", k=DEEP, mode=mode).hits
    if mode is SearchMode.HYBRID:
        assert len({h.document_id for h in deep[:4]}) < 4, "the fixture must put a document twice in the top 4"
    found = searcher.search(BROAD, collection="c", k=4, mode=mode, diversity=Diversity.PER_DOCUMENT).hits
    assert [h.id for h in found] == [h.id for h in per_document(deep, cap=1)[:4]]
    assert len({h.document_id for h in found}) == min(4, len({h.document_id for h in deep}))


def test_near_duplicates_compare_the_stored_vectors(indexed: Components) -> None:
    searcher = indexed.search.searcher
    deep = searcher.search(BROAD, collection="c", k=DEEP, with_vectors=True)
    assert set(deep.vectors) == {h.id for h in deep.hits}
    assert all(len(v) == indexed.search.embedder.dim for v in deep.vectors.values())
    assert "vectors" not in deep.model_dump()  # internal: never part of an API response
    similarity = indexed.settings.diversity_similarity
    found = searcher.search(BROAD, collection="c", k=5, diversity=Diversity.NEAR_DUPLICATES).hits
    assert [h.id for h in found] == [h.id for h in near_duplicates(deep.hits, deep.vectors, similarity=similarity)][:5]


def test_the_setting_is_the_default_of_search(indexed: Components) -> None:
    settings = indexed.settings.model_copy(update={"search_diversity": Diversity.PER_DOCUMENT})
    parts = indexed.search
    searcher = Searcher(store=parts.store, embedder=parts.embedder, sparse=parts.sparse, settings=settings)
    assert [h.id for h in searcher.search(BROAD, collection="c", k=4).hits] == _ids(
        indexed, k=4, diversity=Diversity.PER_DOCUMENT
    )


def _answers(indexed: Components, settings: Settings) -> AnswerService:
    return AnswerService(
        searcher=indexed.search.searcher,
        chat=ScriptedChat(["unused"]),
        gate=GenerationGate(max_waiting=1, retry_after_s=1),
        settings=settings,
    )


def test_answer_sources_follow_answer_diversity(indexed: Components) -> None:
    settings = indexed.settings
    plan = _answers(indexed, settings).plan(BROAD, collection="c")
    assert [h.id for h in plan.hits] == _ids(indexed, k=settings.answer_k, diversity=Diversity.PER_DOCUMENT)
    assert len({h.document_id for h in plan.hits}) == settings.answer_k


@pytest.mark.parametrize("mode", [SearchMode.HYBRID, SearchMode.DENSE, SearchMode.BM25])
def test_coverage_reorders_the_deeper_search_as_the_model_says(indexed: Components, mode: SearchMode) -> None:
    searcher = indexed.search.searcher
    settings = indexed.settings
    deep = searcher.search(BROAD, collection="c", k=DEEP, mode=mode, with_vectors=True)
    arms = [searcher.search(BROAD, collection="c", k=settings.prefetch_limit, mode=m).hits for m in _ARMS]
    expected = cover(
        deep.hits, dense=arms[0], sparse=arms[1], vectors=deep.vectors, model=load_model(),
        similarity=settings.diversity_similarity,
    )  # fmt: skip
    found = searcher.search(BROAD, collection="c", k=DEEP, mode=mode, diversity=Diversity.COVERAGE).hits
    assert [h.id for h in found] == [h.id for h in expected]
    assert sorted(h.id for h in found) == sorted(h.id for h in deep.hits)  # re-ordered, nothing lost or added
    top = found[:4]
    assert near_duplicates(top, deep.vectors, similarity=settings.diversity_similarity) == top


def test_coverage_keeps_preferred_hits_first(indexed: Components) -> None:
    searcher = indexed.search.searcher
    deep = searcher.search(BROAD, collection="c", k=DEEP, with_vectors=True)
    arms = [searcher.search(BROAD, collection="c", k=100, mode=m).hits for m in _ARMS]
    chosen = {h.id for h in deep.hits if h.document_id == deep.hits[-1].document_id}
    found = cover(
        deep.hits, dense=arms[0], sparse=arms[1], vectors={}, model=load_model(), similarity=0.9, first=chosen
    )
    assert {h.id for h in found[: len(chosen)]} == chosen
    assert sorted(h.id for h in found) == sorted(h.id for h in deep.hits)


@pytest.mark.parametrize("mode", [SearchMode.HYBRID, SearchMode.BM25])
def test_auto_covers_short_documents_and_sets_back_repeats_in_long_ones(indexed: Components, mode: SearchMode) -> None:
    parts = indexed.search
    deep = parts.searcher.search(BROAD, collection="c", k=DEEP, mode=mode).hits
    latest = max(h.chunk_index or 0 for h in deep)
    # Fixture: with "long" from chunk index 1, long documents fill at least half of the candidates.
    assert auto_method(deep, long_document=1) is Diversity.NEAR_DUPLICATES
    for long_document, expected in ((latest + 1, Diversity.COVERAGE), (1, Diversity.NEAR_DUPLICATES)):
        settings = indexed.settings.model_copy(update={"diversity_long_document": long_document})
        searcher = Searcher(store=parts.store, embedder=parts.embedder, sparse=parts.sparse, settings=settings)
        auto = searcher.search(BROAD, collection="c", k=DEEP, mode=mode, diversity=Diversity.AUTO).hits
        chosen = searcher.search(BROAD, collection="c", k=DEEP, mode=mode, diversity=expected).hits
        assert [h.id for h in auto] == [h.id for h in chosen], (long_document, expected)


def test_answers_use_auto_by_default(indexed: Components) -> None:
    assert Settings.model_fields["answer_diversity"].default is Diversity.AUTO
    settings = indexed.settings.model_copy(update={"answer_diversity": Diversity.AUTO})
    plan = _answers(indexed, settings).plan(BROAD, collection="c")
    assert [h.id for h in plan.hits] == _ids(indexed, k=settings.answer_k, diversity=Diversity.AUTO)
