"""Builds the long-lived components (models, store, catalog, queue, orchestrators) from settings."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from answer.gate import GenerationGate
from answer.service import AnswerService
from ingest.blobs import BlobStore
from ingest.catalog import Catalog
from ingest.jobs import JobQueue
from ingest.pipeline import Ingestor
from ingest.synthesis.build import build_synthesis_stage
from ingest.uploads import DocumentService
from ingest.worker import DoneFn, Worker
from kernel.errors import ConfigError
from kernel.ports import ChatModel, Embedder, SparseEncoder, VectorStore
from kernel.settings import Settings, configure_offline
from kernel.sqlite import Database
from knowledge.cache import open_synth_db
from knowledge.reports import ReportStore
from llm.factory import create_chat_model
from retrieval.embedding import create_embedder
from retrieval.search import Searcher
from retrieval.sparse import Bm25Encoder
from retrieval.stores.factory import create_store

log = logging.getLogger(__name__)

DB_FILE = "synthrag.db"


@dataclass
class Services:
    """Everything a request or command needs, built once."""

    settings: Settings
    embedder: Embedder
    sparse: SparseEncoder
    store: VectorStore
    searcher: Searcher
    ingestor: Ingestor
    db: Database
    catalog: Catalog
    jobs: JobQueue
    blobs: BlobStore
    documents: DocumentService
    wake: threading.Event
    reports: ReportStore
    chat: ChatModel | None = None
    answers: AnswerService | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def answer_service(self) -> AnswerService:
        """The answer service; raises ConfigError when built without a chat model."""
        if self.answers is None:
            raise ConfigError("this process was started without a chat model")
        return self.answers

    def new_worker(self, on_done: DoneFn | None = None) -> Worker:
        """A worker over this process's queue, store and models."""
        return Worker(
            db=self.db,
            queue=self.jobs,
            catalog=self.catalog,
            blobs=self.blobs,
            ingestor=self.ingestor,
            store=self.store,
            on_done=on_done,
        )

    def start_workers(self, count: int, on_done: DoneFn | None = None) -> None:
        """Run ``count`` worker threads in this process until :meth:`close`."""
        for n in range(count):
            worker = self.new_worker(on_done)
            thread = threading.Thread(
                target=worker.run, args=(self._stop, self.wake), name=f"ingest-worker-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop worker threads (their jobs' leases expire and are retried), flush and release the store."""
        self._stop.set()
        self.wake.set()
        for thread in self._threads:
            thread.join(timeout=60)
        self._threads.clear()
        self.store.close()


def build_services(
    settings: Settings,
    *,
    with_chat: bool = False,
    embedder: Embedder | None = None,
    synthesize: bool | None = None,
    teacher: ChatModel | None = None,
) -> Services:
    """Load models and open the store as configured; the chat model only when asked for.

    The synthesis stage (and its teacher) is built when ``synthesize`` (default: the
    ``synth.enabled`` setting) is true; ``teacher`` replaces the configured one.
    """
    configure_offline()
    embedder = embedder or create_embedder(settings)
    sparse = Bm25Encoder()
    store = create_store(settings)
    chat = create_chat_model(settings.llm) if with_chat else None
    reports = ReportStore(open_synth_db(settings.data_dir))
    synthesis = None
    if settings.synth.enabled if synthesize is None else synthesize:
        if teacher is None:
            # The same local model for answers and synthesis is loaded once (its lock serializes them).
            teacher = (
                chat if chat is not None and settings.teacher == settings.llm else create_chat_model(settings.teacher)
            )
        synthesis = build_synthesis_stage(settings, store=store, embedder=embedder, sparse=sparse, teacher=teacher)
    db = Database(settings.data_dir / DB_FILE)
    catalog = Catalog(db)
    jobs = JobQueue(db, lease_s=settings.job_lease_s, max_attempts=settings.job_max_attempts)
    blobs = BlobStore(settings.data_dir / "blobs")
    wake = threading.Event()
    log.info(
        "services ready: store=%s embedder=%s dim=%d",
        settings.qdrant_url or f"embedded qdrant-edge at {settings.data_dir}",
        embedder.model_id,
        embedder.dim,
    )
    services = Services(
        settings=settings,
        embedder=embedder,
        sparse=sparse,
        store=store,
        searcher=Searcher(store=store, embedder=embedder, sparse=sparse, settings=settings),
        ingestor=Ingestor(
            store=store,
            embedder=embedder,
            sparse=sparse,
            chunk_max_tokens=settings.chunk_max_tokens,
            chunk_overlap_tokens=settings.chunk_overlap_tokens,
            synthesis=synthesis,
        ),
        db=db,
        catalog=catalog,
        jobs=jobs,
        blobs=blobs,
        documents=DocumentService(
            db=db, catalog=catalog, queue=jobs, blobs=blobs, store=store, settings=settings, wake=wake, reports=reports
        ),
        wake=wake,
        reports=reports,
    )
    if chat is not None:
        attach_chat(services, chat)
    return services


def attach_chat(services: Services, chat: ChatModel) -> None:
    """Add a chat model and the answer service built on it."""
    settings = services.settings
    gate = GenerationGate(max_waiting=settings.generation_queue, retry_after_s=settings.generation_retry_after_s)
    services.chat = chat
    services.answers = AnswerService(searcher=services.searcher, chat=chat, gate=gate, settings=settings)
