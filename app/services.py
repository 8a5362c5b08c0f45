"""Builds the long-lived components (models, store, orchestrators) from settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ingest.pipeline import Ingestor
from kernel.errors import ConfigError
from kernel.ports import ChatModel, Embedder, SparseEncoder, VectorStore
from kernel.settings import Settings, configure_offline
from retrieval.embedding import create_embedder
from retrieval.search import Searcher
from retrieval.sparse import Bm25Encoder
from retrieval.stores.factory import create_store
from synth.answer.gate import GenerationGate
from synth.answer.service import AnswerService
from synth.llm.factory import create_chat_model

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request or command needs, built once."""

    settings: Settings
    embedder: Embedder
    sparse: SparseEncoder
    store: VectorStore
    searcher: Searcher
    ingestor: Ingestor
    chat: ChatModel | None = None
    answers: AnswerService | None = None

    def answer_service(self) -> AnswerService:
        """The answer service; raises ConfigError when built without a chat model."""
        if self.answers is None:
            raise ConfigError("this process was started without a chat model")
        return self.answers

    def close(self) -> None:
        """Flush and release the store."""
        self.store.close()


def build_services(settings: Settings, *, with_chat: bool = False) -> Services:
    """Load models and open the store as configured; the chat model only when asked for."""
    configure_offline()
    embedder = create_embedder(settings)
    sparse = Bm25Encoder()
    store = create_store(settings)
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
        ),
    )
    if with_chat:
        attach_chat(services, create_chat_model(settings.llm))
    return services


def attach_chat(services: Services, chat: ChatModel) -> None:
    """Add a chat model and the answer service built on it."""
    settings = services.settings
    gate = GenerationGate(
        max_waiting=settings.generation_queue, retry_after_s=settings.generation_retry_after_s
    )
    services.chat = chat
    services.answers = AnswerService(searcher=services.searcher, chat=chat, gate=gate, settings=settings)
