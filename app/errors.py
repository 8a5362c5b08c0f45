"""Maps the synthrag error hierarchy to HTTP responses, in one place."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from kernel.errors import (
    BackendError,
    ConfigError,
    ConflictError,
    CorruptDocumentError,
    EmptyDocumentError,
    ForbiddenError,
    InputError,
    NotFoundError,
    OverloadedError,
    QuotaExceededError,
    SynthragError,
    TooLargeError,
    UnauthorizedError,
    UnsupportedFormatError,
)

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[SynthragError], int]] = [
    (UnsupportedFormatError, 415),
    (TooLargeError, 413),
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (CorruptDocumentError, 422),
    (EmptyDocumentError, 422),
    (InputError, 422),
    (ConflictError, 409),
    (NotFoundError, 404),
    (OverloadedError, 429),
    (QuotaExceededError, 429),
    (BackendError, 503),
    (ConfigError, 500),
]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes its limit; FastAPI lets HTTPException through body parsing."""

    def __init__(self, error: TooLargeError) -> None:
        super().__init__(status_code=413, detail=error.message)
        self.error = error


class ErrorJSON(JSONResponse):
    """JSON with non-ASCII escaped: an error may quote a client's text, lone surrogates included."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _finite_or_text(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def status_for(exc: SynthragError) -> int:
    """HTTP status of an error: the first matching class in the table wins."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(message: str, *, kind: str, param: str | None = None, code: str | None = None) -> dict[str, object]:
    """JSON body of every error response: the OpenAI error shape, so chat clients can read it too."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(exc: SynthragError) -> JSONResponse:
    """The HTTP response for one of our errors (429 carries Retry-After)."""
    status = status_for(exc)
    headers = None
    if isinstance(exc, OverloadedError):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, UnauthorizedError):
        headers = {"WWW-Authenticate": "Bearer"}
    kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
    return ErrorJSON(
        status_code=status,
        content=error_body(exc.message, kind=kind, code=type(exc).__name__),
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handler that turns SynthragError into JSON responses."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SynthragError)
        if status_for(exc) >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
        return error_response(exc)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        parts = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in errors]
        first = errors[0]["loc"] if errors else ()
        param = ".".join(str(p) for p in first if p != "body") or None
        body = error_body("; ".join(parts), kind="invalid_request_error", param=param, code="validation_error")
        # A body that is not UTF-8 is quoted back as bytes: shown with replacement characters, not a 500;
        # a number JSON cannot write (1e999 parses as inf) is quoted back as text.
        body["detail"] = jsonable_encoder(
            errors,
            custom_encoder={bytes: lambda b: b.decode("utf-8", "replace"), float: _finite_or_text},
        )
        return ErrorJSON(status_code=422, content=body)

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BodyTooLarge)
        response = error_response(exc.error)
        response.headers["connection"] = "close"  # the rest of the body is not read: end the connection
        return response

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's own errors (unknown route 404, wrong method 405, an unreadable body 400) in our shape.
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        kind = "invalid_request_error" if status < 500 else "server_error"
        return ErrorJSON(status_code=status, content=error_body(str(exc.detail), kind=kind), headers=exc.headers)

    app.add_exception_handler(SynthragError, handle)
    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
