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
from app.routes import answer, health, openai_chat, search, ui
from app.services import Services, build_services
from kernel.settings import Settings

log = logging.getLogger(__name__)


def _with_chat(settings: Settings) -> Services:
    return build_services(settings, with_chat=True)


def create_app(
    settings: Settings, *, services_factory: Callable[[Settings], Services] = _with_chat
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
    app.include_router(answer.router)
    app.include_router(openai_chat.router)
    # The browser page: GET / and its assets under /static.
    app.include_router(ui.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app
