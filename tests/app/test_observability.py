"""Metrics, request ids, JSON logs, readiness and streaming through the observability middleware."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from app.components import Components
from app.main import create_app
from app.observability import (
    JsonFormatter,
    Metrics,
    ObservabilityMiddleware,
    configure_logging,
)
from kernel.errors import StoreError


@pytest.fixture
def client(components: Components) -> Iterator[TestClient]:
    app = create_app(components.settings, components=lambda _s: components)
    with TestClient(app, base_url="http://localhost") as test_client:
        yield test_client


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """JSON lines of every record that reaches the root logger during the test."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Scrape /metrics: {(sample name, sorted labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    for _ in range(2):
        assert client.get("/healthz").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    # An empty data dir has no collection yet: a 404 from a matched route keeps its template.
    searched = client.post("/v1/search", json={"query": "bees", "k": 2}).status_code
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    found = samples(client)

    def requests(method: str, route: str, status: str) -> float:
        key = (("method", method), ("route", route), ("status", status))
        return found.get(("synthrag_http_requests_total", key), 0.0)

    assert requests("GET", "/healthz", "200") == 2
    assert requests("GET", "/static/{path}", "200") == 1  # the template, not the file name
    assert requests("GET", "unmatched", "404") == 1
    assert requests("POST", "/v1/search", str(searched)) == 1
    count = ("synthrag_http_request_duration_seconds_count", (("method", "GET"), ("route", "/healthz")))
    assert found[count] == 2
    assert not any("/no/such/page" in str(labels) for _, labels in found)
    # Without a chat model nothing can be queued for generation.
    assert found[("synthrag_generation_queue_pending", ())] == 0


def test_job_and_ingest_metrics_come_from_their_reporters(client: TestClient) -> None:
    metrics: Metrics = client.app.state.metrics  # type: ignore[attr-defined]
    metrics.set_job_counter(lambda: {"queued": 2, "running": 1})
    metrics.observe_ingest("indexed", 5)
    metrics.observe_ingest("unchanged", 0)
    metrics.observe_ingest("failed", 0)
    found = samples(client)
    assert found[("synthrag_jobs", (("state", "queued"),))] == 2
    assert found[("synthrag_jobs", (("state", "running"),))] == 1
    assert found[("synthrag_jobs", (("state", "failed"),))] == 0  # every state is exported
    assert found[("synthrag_ingest_chunks_total", ())] == 5
    for status in ("indexed", "unchanged", "failed"):
        assert found[("synthrag_ingest_documents_total", (("status", status),))] == 1


def test_failing_job_counter_drops_only_its_gauge(client: TestClient) -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("database is locked")

    client.app.state.metrics.set_job_counter(broken)  # type: ignore[attr-defined]
    found = samples(client)
    assert not any(name == "synthrag_jobs" for name, _ in found)
    assert ("synthrag_generation_queue_pending", ()) in found


def test_each_app_has_its_own_registry(components: Components) -> None:
    first = create_app(components.settings, components=lambda _s: components)
    second = create_app(components.settings, components=lambda _s: components)
    assert first.state.metrics.registry is not second.state.metrics.registry


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    # An id that could forge log lines is replaced, not echoed.
    forged = client.get("/healthz", headers={"X-Request-ID": "a b; INFO forged"}).headers["x-request-id"]
    assert forged != "a b; INFO forged" and len(forged) == 32


def test_access_log_lines_are_json_with_request_fields(client: TestClient, json_log: io.StringIO) -> None:
    searched = client.post("/v1/search", json={"query": "bees"}, headers={"X-Request-ID": "req-42"})
    client.get("/healthz")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    access = [e for e in lines if e["logger"] == "synthrag.access"]
    search = next(e for e in access if e["path"] == "/v1/search")
    assert search["request_id"] == "req-42"
    assert search["method"] == "POST" and search["status"] == searched.status_code
    assert search["level"] == "INFO"
    assert search["duration_ms"] >= 0 and "req-42" in search["message"]
    assert search["ts"].endswith("+00:00")
    probe = next(e for e in access if e["path"] == "/healthz")
    assert probe["level"] == "DEBUG"  # probes stay out of INFO logs


def test_configure_logging_json_replaces_its_own_handler(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        configure_logging("INFO", "text")
        configure_logging("info", "json")
        ours = [h for h in root.handlers if h not in before]
        assert len(ours) == 1
        logging.getLogger("synthrag.test").info("hello %s", "world", extra={"job_id": "j1"})
        logging.getLogger("synthrag.test").debug("hidden")
        entry = json.loads(capsys.readouterr().err.strip())
        assert entry["message"] == "hello world" and entry["job_id"] == "j1"
        assert entry["level"] == "INFO" and entry["logger"] == "synthrag.test"
        with pytest.raises(ValueError, match="json"):
            configure_logging("INFO", "xml")
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)


def test_readyz_ready_with_real_components(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["store"]["status"] == "ok"
    assert body["checks"]["embedder"]["status"] == "ok"
    assert body["checks"]["chat"]["status"] == "skipped"


class BrokenStore:
    """A store whose server went away."""

    def list_collections(self) -> list[str]:
        raise StoreError("listing collections failed: connection refused")

    def close(self) -> None:
        pass


def test_readyz_503_when_store_fails_while_healthz_stays_up(
    client: TestClient, components: Components, json_log: io.StringIO
) -> None:
    broken_search = dataclasses.replace(components.search, store=BrokenStore())  # type: ignore[arg-type]
    broken = dataclasses.replace(components, search=broken_search)
    with TestClient(
        create_app(components.settings, components=lambda _s: broken), base_url="http://localhost"
    ) as broken_client:
        response = broken_client.get("/readyz", headers={"X-Request-ID": "probe-1"})
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not ready"
        assert body["checks"]["store"]["status"] == "fail"
        assert "connection refused" in body["checks"]["store"]["message"]
        assert body["checks"]["embedder"]["status"] == "ok"
        assert broken_client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    # The warning logged inside the (thread-pooled) route carries the request's id.
    warning = next(json.loads(line) for line in json_log.getvalue().splitlines() if '"app.routes.ops"' in line)
    assert warning["level"] == "WARNING" and warning["request_id"] == "probe-1"


def test_streamed_bytes_pass_through_before_the_stream_ends() -> None:
    """The generator waits for its first chunk to reach the client: a buffering middleware deadlocks."""

    async def scenario() -> list[dict[str, Any]]:
        first_delivered = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            await asyncio.wait_for(first_delivered.wait(), timeout=5)
            yield b"second"

        async def stream(_request: Request) -> StreamingResponse:
            return StreamingResponse(body(), media_type="text/plain")

        metrics = Metrics()
        app = ObservabilityMiddleware(Starlette(routes=[Route("/stream", stream)]), metrics=metrics)
        sent: list[dict[str, Any]] = []
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message.get("body") == b"first":
                first_delivered.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/stream",
            "raw_path": b"/stream",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"test")],
            "server": ("test", 80),
            "client": ("127.0.0.1", 1234),
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=10)  # type: ignore[arg-type]
        text = metrics.exposition().decode()
        assert 'synthrag_http_requests_total{method="GET",route="/stream",status="200"} 1.0' in text
        return sent

    sent = asyncio.run(scenario())
    start = sent[0]
    assert start["type"] == "http.response.start"
    assert (b"x-request-id", start["headers"][-1][1]) == start["headers"][-1]
    bodies = [m.get("body", b"") for m in sent[1:]]
    assert bodies[:2] == [b"first", b"second"]


@pytest.mark.slow
def test_real_answer_stream_keeps_streaming(answering: Components) -> None:
    """The SSE answer route through the middleware: events arrive, and the request is counted once."""
    app = create_app(answering.settings, components=lambda _s: answering)
    with TestClient(app, base_url="http://localhost") as client:
        ready = client.get("/readyz").json()
        assert ready["checks"]["chat"]["status"] == "ok"
        with client.stream(
            "POST",
            "/v1/answer",
            json={"question": "How are lighthouses lit?", "stream": True, "max_tokens": 16},
            headers={"X-Request-ID": "sse-1"},
        ) as response:
            assert response.status_code == 200
            assert response.headers["x-request-id"] == "sse-1"
            events = [line for line in response.iter_lines() if line.startswith("event: ")]
        assert events[0] == "event: token" and events[-1] == "event: final"
        found = samples(client)
        key = (("method", "POST"), ("route", "/v1/answer"), ("status", "200"))
        assert found[("synthrag_http_requests_total", key)] == 1
        assert found[("synthrag_generation_queue_pending", ())] == 0  # the ticket was given back


def test_json_formatter_keeps_exceptions() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed" and "RuntimeError: boom" in entry["exc"]
