"""FastAPI application factory: ``create_app(settings)`` wires services into routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from app.errors import install_error_handlers
from app.routes import health, search
from app.services import Services, build_services
from kernel.settings import Settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, *, services_factory: Callable[[Settings], Services] = build_services
) -> FastAPI:
    """Build the app; the lifespan loads models and opens the store once, and closes it on exit."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = services_factory(settings)
        app.state.services = services
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
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(search.router)
    return app
