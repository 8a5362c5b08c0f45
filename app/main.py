"""FastAPI application factory: ``create_app(settings)`` wires services into routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.errors import install_error_handlers
from app.observability import Metrics, ObservabilityMiddleware, generation_pending
from app.routes import answer, documents, health, openai_chat, ops, search, ui
from app.services import Services, build_services
from kernel.settings import Settings

log = logging.getLogger(__name__)


def _with_chat(settings: Settings) -> Services:
    return build_services(settings, with_chat=True)


def create_app(settings: Settings, *, services_factory: Callable[[Settings], Services] = _with_chat) -> FastAPI:
    """Build the app; the lifespan loads models and opens the store once, and closes it on exit."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = services_factory(settings)
        app.state.services = services
        if not settings.api_keys:
            log.warning("SYNTHRAG_API_KEYS is not set: the service is open, every caller sees every document")
        metrics.set_generation_pending(lambda: generation_pending(services))
        metrics.set_job_counter(services.jobs.counts)
        # Uploads are indexed by worker threads in this process (more with `synthrag worker`).
        services.start_workers(settings.workers, on_done=metrics.observe_ingest)
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="synthrag",
        version=version("synthrag"),
        description="Self-hosted retrieval and answers over your documents.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    install_error_handlers(app)
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
