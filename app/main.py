"""FastAPI application factory: ``create_app(settings)`` builds the components and wires them into routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.components import Components, build_configured
from app.errors import install_error_handlers
from app.observability import Metrics, ObservabilityMiddleware, generation_pending
from app.request_guard import RequestGuard
from app.routes import answer, documents, health, openai_chat, ops, search, ui
from app.search_runner import SearchRunner
from kernel.settings import Settings

log = logging.getLogger(__name__)

ComponentsFactory = Callable[[Settings], Components]


def serving_components(settings: Settings) -> Components:
    """What ``synthrag serve`` runs with: the configured models, and synthesis at ingest when enabled."""
    return build_configured(settings, answers=True)


def create_app(settings: Settings, *, components: ComponentsFactory = serving_components) -> FastAPI:
    """Build the app; the lifespan builds the components once (``components``: a factory, for tests)."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = components(settings)
        app.state.components = built
        app.state.search_runner = SearchRunner(settings.search_threads, lone_inline=settings.search_lone_inline)
        if not settings.api_keys:
            log.warning("SYNTHRAG_API_KEYS is not set: the service is open, every caller sees every document")
        metrics.set_generation_pending(lambda: generation_pending(built.answers))
        metrics.set_job_counter(built.ingest.jobs.counts)
        # Uploads are indexed by worker threads in this process (more with `synthrag worker`).
        workers = built.worker_pool(on_done=metrics.observe_ingest)
        workers.start(settings.workers)
        try:
            yield
        finally:
            workers.close()
            built.close()

    app = FastAPI(
        title="synthrag",
        version=version("synthrag"),
        description="Self-hosted retrieval and answers over your documents.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    install_error_handlers(app)
    # Added first, so it runs inside ObservabilityMiddleware: refused requests are counted and logged too.
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    app.include_router(health.router)
    app.include_router(ops.router)
    app.include_router(search.router)
    app.include_router(documents.router)
    app.include_router(answer.router)
    app.include_router(openai_chat.router)
    # The browser page: GET / and its assets under /static.
    app.include_router(ui.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app
