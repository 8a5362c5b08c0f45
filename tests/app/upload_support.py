"""Helpers for the upload/document API tests: sample files, a served app, job polling, store fakes."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient

from app.components import Components
from app.main import create_app
from kernel.errors import StoreError
from kernel.models import StoredPoint
from kernel.ports import VectorStore
from tests.fixtures_docs import (
    BEEKEEPING,
    CHESS,
    LIGHTHOUSES,
    SOURDOUGH,
    VOLCANOES,
    make_docx,
    make_html,
    make_markdown,
    make_pdf,
    make_txt,
)
from tests.live_server import live_server

#: One file per supported format: name -> bytes.
SAMPLES: dict[str, bytes] = {
    "sample.txt": make_txt(BEEKEEPING),
    "sample.md": make_markdown(VOLCANOES),
    "sample.html": make_html("Chess openings", CHESS),
    "sample.pdf": make_pdf(LIGHTHOUSES, title="A short history of lighthouses"),
    "sample.docx": make_docx("Sourdough baking", SOURDOUGH),
}
#: A query whose top hit is the named sample (the topics do not overlap).
QUERIES: dict[str, str] = {
    "sample.txt": "honey bees in the hive",
    "sample.md": "volcanic eruptions and magma",
    "sample.html": "chess openings",
    "sample.pdf": "lighthouse history",
    "sample.docx": "sourdough starter and baking bread",
}
JOB_TIMEOUT_S = 60.0
#: A real-HTTP client or FastAPI's TestClient (built on httpx2, so not an httpx.Client).
Client = httpx.Client | TestClient


def file_parts(files: Sequence[tuple[str, bytes]]) -> list[tuple[str, tuple[str, bytes, str]]]:
    """httpx/TestClient ``files=`` for several uploads under the one field name ``files``."""
    return [("files", (name, data, "application/octet-stream")) for name, data in files]


def upload(client: Client, files: Sequence[tuple[str, bytes]], **form: str) -> Any:
    """POST /v1/documents with the files and form fields; an httpx or httpx2 Response."""
    return client.post("/v1/documents", files=file_parts(files), data=form)


def wait_for_job(client: Client, job_id: str, *, timeout: float = JOB_TIMEOUT_S) -> dict[str, Any]:
    """Poll GET /v1/jobs/{id} until the job is done, failed or cancelled; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']} ({job['stage']}) after {timeout} s"
        time.sleep(0.05)


def upload_and_wait(client: Client, files: Sequence[tuple[str, bytes]], **form: str) -> list[dict[str, Any]]:
    """Upload, expect 202, wait for every job to be done; returns the upload results."""
    response = upload(client, files, **form)
    assert response.status_code == 202, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    for result in results:
        job = wait_for_job(client, result["job_id"])
        assert job["state"] == "done", job
    return results


def top_source(client: Client, query: str, **body: Any) -> str | None:
    """The source of the best hit for ``query`` (None when there is no hit)."""
    response = client.post("/v1/search", json={"query": query, "k": 3, **body})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    return hits[0]["source"] if hits else None


def document_points(components: Components, collection: str, document_id: str) -> int:
    """How many points of one document the store holds (``collection`` is the physical name)."""
    return len(components.search.store.document_point_ids(collection, document_id))


@contextmanager
def serve(components: Components, *, headers: dict[str, str] | None = None) -> Iterator[httpx.Client]:
    """A real uvicorn serving an app over ``components`` (its lifespan starts the workers); an httpx client."""
    app = create_app(components.settings, components=lambda _settings: components)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60, headers=headers) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for an API key."""
    return {"Authorization": f"Bearer {key}"}


class FlakyStore:
    """The real store, whose writes raise StoreError while ``broken`` is True (a fake at the port)."""

    def __init__(self, inner: VectorStore) -> None:
        self.inner = inner
        self.broken = False

    def upsert(self, collection: str, points: Sequence[StoredPoint]) -> None:
        if self.broken:
            raise StoreError(f"store unavailable (test): cannot write to '{collection}'")
        self.inner.upsert(collection, points)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
