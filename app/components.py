"""The long-lived parts of one process, built from settings with every backend injectable.

Three groups, one per layer that owns them: :class:`SearchParts` (retrieval), :class:`IngestParts`
(the catalog, queue and ingest orchestrators) and an optional answer service. Route dependencies
(:mod:`app.deps`) hand each route only the part it needs; worker threads live in
:class:`ingest.workers.WorkerPool`, not here.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from typing import NamedTuple

from answer.gate import GenerationGate
from answer.service import AnswerService
from ingest.blobs import BlobStore
from ingest.bm25_stats import Bm25Stats
from ingest.catalog import Catalog
from ingest.jobs import JobQueue
from ingest.pipeline import Ingestor
from ingest.synthesis.build import build_synthesis_stage, chunk_search
from ingest.uploads import DocumentService, parse_limits
from ingest.worker import DoneFn, Worker
from ingest.workers import WorkerPool
from kernel.errors import ConfigError
from kernel.ports import ChatModel, Embedder, SparseEncoder, VectorStore
from kernel.settings import Settings, configure_offline
from kernel.sqlite import Database
from knowledge.cache import GenerationCache, open_synth_db
from knowledge.reports import ReportStore
from llm.factory import create_chat_model, for_role
from retrieval.embedding import create_embedder, load_embedder
from retrieval.profiles import CollectionProfiles
from retrieval.search import Searcher
from retrieval.spaces import CollectionSpaces, ModelCache
from retrieval.sparse import Bm25Encoder
from retrieval.stores.factory import create_store

log = logging.getLogger(__name__)

DB_FILE = "synthrag.db"


@dataclass(frozen=True, slots=True)
class SearchParts:
    """Models and store that every search and every ingest shares."""

    embedder: Embedder
    sparse: SparseEncoder
    store: VectorStore
    searcher: Searcher
    spaces: CollectionSpaces


@dataclass(frozen=True, slots=True)
class IngestParts:
    """The document catalog, the job queue and blob store, and the orchestrators writing to them."""

    db: Database
    catalog: Catalog
    jobs: JobQueue
    blobs: BlobStore
    reports: ReportStore
    ingestor: Ingestor
    documents: DocumentService
    #: Set when a job is queued, so idle workers of this process start at once.
    wake: threading.Event


@dataclass(frozen=True, slots=True)
class Components:
    """Everything one process serves with; built by :func:`build_components`, closed once."""

    settings: Settings
    search: SearchParts
    ingest: IngestParts
    #: None when the process was built without a chat model (ingest, search, eval, worker).
    answers: AnswerService | None = None

    def answer_service(self) -> AnswerService:
        """The answer service; raises ConfigError when built without a chat model."""
        if self.answers is None:
            raise ConfigError("this process was started without a chat model")
        return self.answers

    def with_chat(self, chat: ChatModel) -> Components:
        """A copy of these components that also answers with ``chat`` (same store, models and catalog)."""
        return dataclasses.replace(self, answers=build_answers(self.settings, self.search.searcher, chat))

    def new_worker(self, on_done: DoneFn | None = None) -> Worker:
        """A worker over this process's queue, store and models."""
        parts = self.ingest
        return Worker(
            db=parts.db,
            queue=parts.jobs,
            catalog=parts.catalog,
            blobs=parts.blobs,
            ingestor=parts.ingestor,
            store=self.search.store,
            collections=self.search.store,
            on_done=on_done,
            deletions=parts.documents.deleter,
            limits=parse_limits(self.settings),
            isolated=self.settings.parse_isolated,
        )

    def worker_pool(self, on_done: DoneFn | None = None) -> WorkerPool:
        """A pool of worker threads sharing this process's wake-up event (started by the caller)."""
        return WorkerPool(lambda: self.new_worker(on_done), wake=self.ingest.wake)

    def close(self) -> None:
        """Flush and release the store (stop worker pools first)."""
        self.search.store.close()


class ChatModels(NamedTuple):
    """The model that writes answers and the teacher that writes synthetic knowledge (either may be absent)."""

    chat: ChatModel | None
    teacher: ChatModel | None


def load_chat_models(settings: Settings, *, answers: bool, synthesis: bool) -> ChatModels:
    """Load the configured models; when both roles run the same model the same way, it is loaded once (its
    lock serializes them). By default they differ: the teacher computes in widened weights (see ``for_role``)."""
    chat = create_chat_model(settings.llm) if answers else None
    teacher = None
    if synthesis:
        same = for_role(settings.teacher, "teacher") == for_role(settings.llm, "answers")
        teacher = chat if chat is not None and same else create_chat_model(settings.teacher, role="teacher")
    return ChatModels(chat, teacher)


def build_configured(
    settings: Settings,
    *,
    answers: bool,
    synthesis: bool | None = None,
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
) -> Components:
    """Components with the configured chat models: answers when asked, synthesis per ``synth.enabled``
    unless ``synthesis`` says otherwise; embedder and store as given or configured."""
    enabled = settings.synth.enabled if synthesis is None else synthesis
    chat, teacher = load_chat_models(settings, answers=answers, synthesis=enabled)
    return build_components(settings, embedder=embedder, store=store, chat=chat, teacher=teacher)


def build_components(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
    chat: ChatModel | None = None,
    teacher: ChatModel | None = None,
) -> Components:
    """Build the process's parts: configured embedder and store unless given; answers with ``chat``,
    a synthesis stage at ingest with ``teacher`` (see :func:`load_chat_models`)."""
    configure_offline()
    db = Database(settings.data_dir / DB_FILE)
    search = build_search(settings, embedder=embedder, store=store, catalog=Catalog(db))
    ingest = build_ingest(settings, search, teacher=teacher, db=db)
    answers = build_answers(settings, search.searcher, chat) if chat is not None else None
    log.info(
        "components ready: store=%s embedder=%s dim=%d",
        settings.qdrant_url or f"embedded qdrant-edge at {settings.data_dir}",
        search.embedder.model_id,
        search.embedder.dim,
    )
    return Components(settings=settings, search=search, ingest=ingest, answers=answers)


def build_search(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
    catalog: Catalog | None = None,
) -> SearchParts:
    """Embedder, BM25 encoder, store and the searcher over them (dropping hits of documents the
    ``catalog`` has being deleted, when given)."""
    embedder = embedder or create_embedder(settings)
    store = store or create_store(settings)
    sparse = Bm25Encoder()
    spaces = CollectionSpaces(store, embedder, ModelCache(lambda path: load_embedder(settings, path)))
    searcher = Searcher(
        store=store,
        embedder=embedder,
        sparse=sparse,
        settings=settings,
        profiles=CollectionProfiles(store),
        deleting=catalog.deleting if catalog is not None else None,
        spaces=spaces,
    )
    return SearchParts(embedder=embedder, sparse=sparse, store=store, searcher=searcher, spaces=spaces)


def build_ingest(
    settings: Settings, search: SearchParts, *, teacher: ChatModel | None = None, db: Database | None = None
) -> IngestParts:
    """Catalog, queue, blobs and reports in the data dir (``db``: its database, if already open); the
    ingestor (with synthesis when a teacher is given)."""
    db = db or Database(settings.data_dir / DB_FILE)
    catalog = Catalog(db)
    jobs = JobQueue(
        db,
        lease_s=settings.job_lease_s,
        max_attempts=settings.job_max_attempts,
        max_queued_jobs=settings.tenant_max_queued_jobs,
        max_queued_bytes=settings.tenant_max_queued_bytes,
    )
    blobs = BlobStore(settings.data_dir / "blobs")
    bm25 = Bm25Stats(db)
    synth_db = open_synth_db(settings.data_dir)
    reports = ReportStore(synth_db)
    synthesis = None
    if teacher is not None:
        synthesis = build_synthesis_stage(
            settings,
            store=search.store,
            bm25=bm25,
            embedder=search.embedder,
            sparse=search.sparse,
            teacher=teacher,
            search=chunk_search(search.searcher),
        )
    ingestor = Ingestor(
        store=search.store,
        collections=search.store,
        bm25=bm25,
        embedder=search.embedder,
        sparse=search.sparse,
        chunk_max_tokens=settings.chunk_max_tokens,
        chunk_overlap_tokens=settings.chunk_overlap_tokens,
        synthesis=synthesis,
        context_headers=settings.context_headers,
        spaces=search.spaces,
    )
    wake = threading.Event()
    documents = DocumentService(
        db=db,
        catalog=catalog,
        queue=jobs,
        blobs=blobs,
        store=search.store,
        settings=settings,
        wake=wake,
        reports=reports,
        generations=GenerationCache(synth_db),
    )
    return IngestParts(
        db=db,
        catalog=catalog,
        jobs=jobs,
        blobs=blobs,
        reports=reports,
        ingestor=ingestor,
        documents=documents,
        wake=wake,
    )


def build_answers(settings: Settings, searcher: Searcher, chat: ChatModel) -> AnswerService:
    """The answer service: one generation gate per chat model."""
    gate = GenerationGate(max_waiting=settings.generation_queue, retry_after_s=settings.generation_retry_after_s)
    return AnswerService(searcher=searcher, chat=chat, gate=gate, settings=settings)
