"""ASGI middleware that decides about a request before any of its body is read.

In order: the Host header (open mode answers loopback names only), cross-site browser writes (open
mode), the API key of every ``/v1`` request (401 before a byte of the body is read, so a keyless
client cannot make the server buffer anything), then the body's size, counted as it arrives: a
``Content-Length`` over the limit is refused at once, a chunked body when its bytes pass the limit.
Every response carries basic security headers; the browser page also gets a content security policy.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import authenticate
from app.errors import BodyTooLarge, error_response
from app.host_policy import cross_site_write, host_allowed
from kernel.errors import ForbiddenError, SynthragError, TooLargeError
from kernel.settings import Settings

#: An unread body up to this size is drained by the server; a larger one closes the connection.
DRAIN_BYTES = 64 * 1024
#: The route whose body is files; every other body is a JSON request.
UPLOAD_PATH = "/v1/documents"
SECURITY_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
)
#: The page loads its script and style from /static and talks only to this origin.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def is_upload(method: str, path: str) -> bool:
    """Whether the request is a document upload (its body is files)."""
    return method == "POST" and path.rstrip("/") == UPLOAD_PATH


def body_limit(settings: Settings, *, upload: bool) -> int:
    """The most bytes a request's body may have (an upload request holds at least one largest file)."""
    if upload:
        return max(settings.max_upload_request_bytes, settings.max_upload_bytes + 1024 * 1024)
    return settings.max_request_bytes


def too_large(size: int, limit: int, *, upload: bool) -> TooLargeError:
    """The 413 error for a body of at least ``size`` bytes."""
    what = "upload request (all files together)" if upload else "request body"
    hint = "send fewer or smaller files per request" if upload else "send a shorter request"
    return TooLargeError(f"{what} of {size:,}+ bytes is over the {limit:,}-byte limit; {hint}")


class RequestGuard:
    """Pure ASGI middleware: policy checks and body limits ahead of routing and body parsing."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(scope, send)
        headers = Headers(scope=scope)
        try:
            limit, upload = self._admit(scope, headers)
        except SynthragError as exc:
            response = error_response(exc)
            if _large_body(headers):
                # The body is left unread: closing the connection stops the client sending it (else the
                # server would read, and throw away, whatever it sends: 400 MB of it took 12 s of CPU).
                response.headers["connection"] = "close"
            else:
                # A small body is read first: a connection closed on unread bytes is reset, and the reset
                # can destroy the reply before the client has read it.
                await _drain(receive)
            await response(scope, receive, send)
            return
        await self.app(scope, _counting(receive, limit, upload=upload), send)

    def _admit(self, scope: Scope, headers: Headers) -> tuple[int, bool]:
        """The body limit of an admitted request and whether it is an upload; raises what refuses it."""
        settings = self.settings
        method, path = scope["method"], scope["path"]
        if not host_allowed(headers.get("host", ""), settings):
            raise ForbiddenError(
                "this Host is not served: without API keys the service answers only loopback names "
                "(localhost, 127.0.0.1, [::1]); set SYNTHRAG_API_KEYS or SYNTHRAG_ALLOWED_HOSTS"
            )
        if not settings.api_keys and (reason := cross_site_write(method, headers)):
            raise ForbiddenError(
                f"write refused because {reason}: an open service (no API keys) accepts no cross-site writes"
            )
        if settings.api_keys and path.startswith("/v1/"):
            authenticate(headers.get("authorization", ""), settings.api_keys)
        upload = is_upload(method, path)
        limit = body_limit(settings, upload=upload)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large(int(declared), limit, upload=upload)
        return limit, upload

    def _with_headers(self, scope: Scope, send: Send) -> Send:
        page = scope["path"] == "/" or scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    out.setdefault(name, value)
                if page:
                    out.setdefault("content-security-policy", PAGE_POLICY)
            await send(message)

        return send_with_headers


def _large_body(headers: Headers) -> bool:
    """Whether a request's body is chunked or declared larger than :data:`DRAIN_BYTES`."""
    declared = headers.get("content-length", "")
    return "transfer-encoding" in headers or (declared.isdigit() and int(declared) > DRAIN_BYTES)


async def _drain(receive: Receive) -> None:
    """Read and drop a request body (callers bound its size: at most :data:`DRAIN_BYTES`)."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _counting(receive: Receive, limit: int, *, upload: bool) -> Receive:
    """``receive`` that raises BodyTooLarge once the body's bytes pass ``limit``."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(too_large(seen, limit, upload=upload))
        return message

    return counted
