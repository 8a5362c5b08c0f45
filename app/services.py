"""Builds the long-lived components (models, store, orchestrators) from settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ingest.pipeline import Ingestor
from kernel.ports import Embedder, SparseEncoder, VectorStore
from kernel.settings import Settings, configure_offline
from retrieval.embedding import create_embedder
from retrieval.search import Searcher
from retrieval.sparse import Bm25Encoder
from retrieval.stores.factory import create_store

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

    def close(self) -> None:
        """Flush and release the store."""
        self.store.close()


def build_services(settings: Settings) -> Services:
    """Load models and open the store as configured."""
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
    return Services(
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
