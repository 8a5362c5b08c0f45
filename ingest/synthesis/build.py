"""Builds the synthesis stage from settings: teacher generator with its cache, filter, reports, round-trip search."""

from __future__ import annotations

from ingest.bm25_stats import Bm25Stats
from ingest.synthesis.stage import ChunkSearch, SynthesisStage
from kernel.models import Fusion, PointKind, SearchFilters, SearchMode
from kernel.payload import DENSE_VECTOR
from kernel.ports import ChatModel, Embedder, SparseEncoder, VectorStore
from kernel.settings import Settings
from knowledge.cache import GenerationCache, open_synth_db
from knowledge.generate import TeacherGenerator
from knowledge.reports import ReportStore
from retrieval.search import Searcher
from retrieval.spaces import QueryVector


def build_synthesis_stage(
    settings: Settings,
    *,
    store: VectorStore,
    bm25: Bm25Stats,
    embedder: Embedder,
    sparse: SparseEncoder,
    teacher: ChatModel,
    search: ChunkSearch | None = None,
) -> SynthesisStage:
    """The synthesis stage the settings describe.

    Args:
        settings: Its ``synth`` group, the teacher's backend (a remote one gets concurrent requests),
            the data dir (generation cache and reports) and, for the default search, the retrieval settings.
        store: The vector store the document's chunks are in; synthetic points go to their companion collection.
        bm25: The collections' BM25 length statistics (the companion keeps its own).
        embedder: The dense embedder of the collection.
        sparse: The BM25 encoder.
        teacher: The model that writes the notes.
        search: The round-trip filter's chunk search; default: :func:`chunk_search` over these parts.
    """
    db = open_synth_db(settings.data_dir)
    generator = TeacherGenerator(
        teacher,
        GenerationCache(db),
        questions=settings.synth.questions,
        max_attempts=settings.synth.max_attempts,
        batch_size=settings.synth.batch_size,
    )
    if search is None:
        search = chunk_search(Searcher(store=store, embedder=embedder, sparse=sparse, settings=settings))
    # A remote teacher takes several requests at once; the local model runs one at a time.
    concurrency = settings.teacher.max_concurrency if settings.teacher.backend == "openai" else 1
    return SynthesisStage(
        store=store,
        embedder=embedder,
        sparse=sparse,
        generator=generator,
        reports=ReportStore(db),
        settings=settings.synth,
        search=search,
        add_lengths=bm25.add,
        concurrency=concurrency,
    )


def chunk_search(searcher: Searcher) -> ChunkSearch:
    """The round trip's search: hybrid over chunks only, with the searcher's prefetch and RRF settings."""
    only_chunks = SearchFilters(kinds=[PointKind.CHUNK])

    def search(collection: str, question: str, vector: list[float], k: int) -> list[str]:
        if not question.strip():
            return []  # nothing to search with; the searcher refuses an empty query
        # The base space and RRF always: the filter's verdicts must not move with adaptation or fusion settings.
        result = searcher.search(
            question,
            collection=collection,
            k=k,
            mode=SearchMode.HYBRID,
            filters=only_chunks,
            query_vector=QueryVector(DENSE_VECTOR, vector),
            space=DENSE_VECTOR,
            fusion=Fusion.RRF,
        )
        return [hit.id for hit in result.hits]

    return search
