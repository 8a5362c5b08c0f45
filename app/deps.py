"""One FastAPI dependency per thing a route needs, read from the :class:`Components` the lifespan built.

They are ``async def`` because they only read attributes: FastAPI runs a plain ``def`` dependency in
the thread pool, a thread hop per dependency on every request (six for a search) for no blocking work."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from answer.service import AnswerService
from app.components import Components
from ingest.catalog import Catalog
from ingest.jobs import JobQueue
from ingest.uploads import DocumentService
from kernel.ports import Embedder, VectorStore
from kernel.settings import Settings
from retrieval.search import Searcher


def get_components(request: Request) -> Components:
    """The process's components (set on ``app.state`` by the lifespan)."""
    return cast(Components, request.app.state.components)


async def get_settings_dep(request: Request) -> Settings:
    """The settings the app was created with."""
    return get_components(request).settings


async def get_searcher(request: Request) -> Searcher:
    """The searcher over the process's store and models."""
    return get_components(request).search.searcher


async def get_embedder(request: Request) -> Embedder:
    """The dense embedder."""
    return get_components(request).search.embedder


async def get_store(request: Request) -> VectorStore:
    """The vector store (collection listing and existence checks)."""
    return get_components(request).search.store


async def get_documents(request: Request) -> DocumentService:
    """Uploads, re-ingest, delete and synthesis reports, scoped to a tenant by each call."""
    return get_components(request).ingest.documents


async def get_catalog(request: Request) -> Catalog:
    """The document catalog."""
    return get_components(request).ingest.catalog


async def get_jobs(request: Request) -> JobQueue:
    """The ingest job queue."""
    return get_components(request).ingest.jobs


async def get_answers(request: Request) -> AnswerService:
    """The answer service; a ConfigError (503) when the process runs without a chat model."""
    return get_components(request).answer_service()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
EmbedderDep = Annotated[Embedder, Depends(get_embedder)]
StoreDep = Annotated[VectorStore, Depends(get_store)]
DocumentsDep = Annotated[DocumentService, Depends(get_documents)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]
AnswersDep = Annotated[AnswerService, Depends(get_answers)]
