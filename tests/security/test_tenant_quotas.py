"""Per-tenant queue quotas (hardening issue, finding 6), against a live server with two tenants.

No worker runs (``workers=0``), so every accepted upload stays queued: a tenant that filled its quota
gets 429 with a message saying what is queued and the limit; nothing it already queued is lost, and
the other tenant is not affected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import bearer, serve, upload
from tests.conftest import make_components
from tests.fixtures_docs import make_txt

pytestmark = pytest.mark.slow

KEY_A = "key-alpha-0123456789"
KEY_B = "key-beta-9876543210"
MAX_JOBS = 3
MAX_BYTES = 4000


def _note(n: int, size: int = 200) -> tuple[str, bytes]:
    text = f"Note {n} about beekeeping and honey frames. "
    return f"note-{n}.txt", make_txt([(text * (size // len(text) + 1))[:size]])


@pytest.fixture
def base_url(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path / "data",
        api_keys={KEY_A: "alpha", KEY_B: "beta"},
        workers=0,
        tenant_max_queued_jobs=MAX_JOBS,
        tenant_max_queued_bytes=MAX_BYTES,
    )
    components = make_components(settings, embedder)
    try:
        with serve(components) as client:
            yield str(client.base_url).rstrip("/")
    finally:
        components.close()


def _client(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=60, headers=bearer(key))


def _refused(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 429, response.text
    message = response.json()["error"]["message"]
    for word in words:
        assert word in message, message


def _documents(client: httpx.Client) -> set[str]:
    response = client.get("/v1/documents")
    assert response.status_code == 200, response.text
    return {doc["source"] for doc in response.json()["documents"]}


def test_a_tenant_past_its_job_quota_gets_429_and_keeps_what_it_queued(base_url: str) -> None:
    with _client(base_url, KEY_A) as a, _client(base_url, KEY_B) as b:
        assert upload(a, [_note(0), _note(1)]).status_code == 202
        # A batch that does not fit is refused whole: nothing of it is queued.
        _refused(upload(a, [_note(2), _note(3)]), "2 of your jobs are queued or running", "adds 2", "limit is 3")
        assert _documents(a) == {"note-0.txt", "note-1.txt"}
        assert upload(a, [_note(2)]).status_code == 202
        _refused(upload(a, [_note(3)]), "3 of your jobs are queued or running", "limit is 3 per tenant")
        # The same file again is a duplicate, not a new job: still accepted.
        again = upload(a, [_note(0)])
        assert again.status_code == 202 and again.json()["results"][0]["duplicate"] is True
        assert _documents(a) == {"note-0.txt", "note-1.txt", "note-2.txt"}
        # The other tenant's queue is its own.
        response = upload(b, [_note(0)])
        assert response.status_code == 202, response.text
        assert _documents(b) == {"note-0.txt"}


def test_a_tenant_past_its_byte_quota_gets_429(base_url: str) -> None:
    big = _note(0, size=3000)
    with _client(base_url, KEY_A) as a, _client(base_url, KEY_B) as b:
        assert upload(a, [big]).status_code == 202
        _refused(upload(a, [_note(1, size=1500)]), f"{len(big[1]):,} bytes of your uploads", "limit is 4,000 bytes")
        assert _documents(a) == {"note-0.txt"}
        assert upload(b, [_note(1, size=1500)]).status_code == 202
