"""Operations plumbing: Prometheus metrics, structured logs, and the ASGI middleware that feeds both."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.datastructures import MutableHeaders
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from answer.service import AnswerService

log = logging.getLogger(__name__)
access_log = logging.getLogger("synthrag.access")

REQUEST_ID_HEADER = "X-Request-ID"
#: Job states the queue reports; each is exported (as 0 when absent) so dashboards see every series.
JOB_STATES = ("queued", "running", "done", "failed")
#: Probes and scrapes arrive every few seconds; their access lines go to DEBUG, not INFO.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# An incoming id is echoed and logged, so only a short, plain one is trusted (no log injection).
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

#: The id of the request being served, for log lines written while handling it (threads included:
#: Starlette copies the context into its thread pool).
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class Metrics:
    """Every metric of one app, on its own registry (create_app may run many times in one process).

    The job queue and the ingest worker report through :meth:`set_job_counter` and
    :meth:`observe_ingest`; gauges with callbacks are read when ``/metrics`` is scraped.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "synthrag_http_requests",
            "HTTP requests served, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "synthrag_http_request_duration_seconds",
            "Time from request start to the last byte of the response (streams included).",
            ["method", "route"],
            registry=self.registry,
        )
        self.ingest_chunks = Counter(
            "synthrag_ingest_chunks", "Chunks written to the store by ingestion.", registry=self.registry
        )
        self.ingest_documents = Counter(
            "synthrag_ingest_documents",
            "Documents processed by ingestion, by outcome (indexed, unchanged, failed).",
            ["status"],
            registry=self.registry,
        )
        self._job_counter: Callable[[], dict[str, int]] | None = None
        self._generation_pending: Callable[[], int] | None = None
        self.registry.register(_CallbackCollector(self))

    def observe_http(self, *, method: str, route: str, status: int, duration_s: float) -> None:
        """Count one finished request and its latency."""
        self.http_requests.labels(method=method, route=route, status=str(status)).inc()
        self.http_duration.labels(method=method, route=route).observe(duration_s)

    def observe_ingest(self, status: str, chunks: int) -> None:
        """Count one ingested document (status: indexed, unchanged or failed) and its new chunks."""
        self.ingest_documents.labels(status=status).inc()
        if chunks > 0:
            self.ingest_chunks.inc(chunks)

    def set_job_counter(self, fn: Callable[[], dict[str, int]]) -> None:
        """Register the function that counts jobs by state; it is called on every scrape."""
        self._job_counter = fn

    def set_generation_pending(self, fn: Callable[[], int]) -> None:
        """Register the function that returns generations running or waiting for the model."""
        self._generation_pending = fn

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _CallbackCollector:
    """Gauges computed at scrape time; a failing callback drops its gauge instead of the scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        counter = self._metrics._job_counter
        if counter is not None:
            try:
                counts = counter()
            except Exception:
                log.exception("job counter failed; synthrag_jobs left out of this scrape")
            else:
                jobs = GaugeMetricFamily("synthrag_jobs", "Jobs in the queue, by state.", labels=["state"])
                for state in sorted(set(JOB_STATES) | set(counts)):
                    jobs.add_metric([state], counts.get(state, 0))
                yield jobs
        pending = self._metrics._generation_pending
        if pending is not None:
            try:
                value = pending()
            except Exception:
                log.exception("generation queue callback failed")
            else:
                yield GaugeMetricFamily(
                    "synthrag_generation_queue_pending",
                    "Generations running or waiting for the chat model.",
                    value=value,
                )


def generation_pending(answers: AnswerService | None) -> int:
    """Generations running or queued in this process (0 without a chat model)."""
    return 0 if answers is None else answers.gate.pending


def route_template(scope: Scope, *, root_path: str = "") -> str:
    """The matched route's path template (bounded label values), or ``unmatched``.

    Args:
        scope: The request scope after the app handled it (the router writes the match into it).
        root_path: ``root_path`` before routing; a longer one afterwards means a mount took the request.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return f"{path}/{{path}}" if isinstance(route, Mount) else path or "/"
    # FastAPI's router records no route for a mount (e.g. StaticFiles) but extends root_path.
    after = scope.get("root_path", "")
    if isinstance(after, str) and len(after) > len(root_path) and after.startswith(root_path):
        return f"{after[len(root_path) :]}/{{path}}"
    return "unmatched"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _VALID_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class ObservabilityMiddleware:
    """Pure ASGI middleware: request id, metrics and one access-log line per HTTP request.

    It only watches ``send``; it never buffers the body, so streamed responses keep streaming
    (Starlette's BaseHTTPMiddleware would pipe them through a queue).
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        root_path = scope.get("root_path", "")
        start = time.perf_counter()
        status = 500  # what the client gets when the app raises before starting a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - start
            method, path = scope["method"], scope["path"]
            self.metrics.observe_http(
                method=method, route=route_template(scope, root_path=root_path), status=status, duration_s=duration
            )
            access_log.log(
                logging.DEBUG if path in _QUIET_PATHS else logging.INFO,
                "%s %s %d %.1f ms [%s]",
                method,
                path,
                status,
                duration * 1000,
                request_id,
                extra={
                    "request_id": request_id,
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": round(duration * 1000, 2),
                },
            )
            request_id_var.reset(token)


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the ``extra`` fields, request_id, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        request_id = request_id_var.get()
        if request_id is not None:
            entry.setdefault("request_id", request_id)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Control characters (newlines above all) in a message could forge log lines: a request path or a
# file name is client text. They are written as escapes; tracebacks keep their lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """``text`` with control characters written as ``\\n``-style escapes (one log line stays one line)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class TextFormatter(logging.Formatter):
    """The text log format; a message can never span lines (see :func:`escape_controls`)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return escape_controls(super().formatMessage(record))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (as logging's last-resort handler does), so a
    replaced stderr (test capture, a daemonised process) never leaves it writing to a closed stream."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> object:
        return sys.stderr


def configure_logging(level: str, fmt: Literal["json", "text"] | str) -> None:
    """Send logs to stderr as JSON lines or text; replaces a handler installed by an earlier call.

    Args:
        level: A logging level name (``INFO``, ``DEBUG``, ...).
        fmt: ``json`` (one object per line) or ``text``.
    """
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be 'json' or 'text', not {fmt!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_synthrag", False):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(_TEXT_FORMAT))
    handler._synthrag = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
