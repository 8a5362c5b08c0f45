"""Maps the synthrag error hierarchy to HTTP responses, in one place."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kernel.errors import (
    BackendError,
    ConfigError,
    CorruptDocumentError,
    EmptyDocumentError,
    InputError,
    NotFoundError,
    SynthragError,
    UnsupportedFormatError,
)

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[SynthragError], int]] = [
    (UnsupportedFormatError, 415),
    (CorruptDocumentError, 422),
    (EmptyDocumentError, 422),
    (InputError, 422),
    (NotFoundError, 404),
    (BackendError, 503),
    (ConfigError, 500),
]


def status_for(exc: SynthragError) -> int:
    """HTTP status of an error: the first matching class in the table wins."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(exc: SynthragError) -> dict[str, object]:
    """JSON body of an error response."""
    return {"error": {"type": type(exc).__name__, "message": exc.message}}


def install_error_handlers(app: FastAPI) -> None:
    """Register the handler that turns SynthragError into JSON responses."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SynthragError)
        status = status_for(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
        return JSONResponse(status_code=status, content=error_body(exc))

    app.add_exception_handler(SynthragError, handle)
