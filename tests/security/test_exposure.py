"""Who can reach the service and what it reads before deciding (hardening findings 1, 2, 10, 12), live.

Real uvicorn on loopback with the real embedder and store: two tenants by API key, or open mode (no
keys). Raw sockets where the point is what the server does before the client has sent everything.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import anyio.to_thread
import httpx
import pytest

from app.main import create_app
from app.observability import configure_logging
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import bearer, file_parts, upload_and_wait
from tests.conftest import make_components
from tests.fixtures_docs import make_txt
from tests.live_server import live_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEY_A = "key-alpha-0123456789"
KEY_B = "key-beta-9876543210"
METRICS_KEY = "metrics-key-0123456789"
NOTE = make_txt(["Beekeepers harvest honey in late summer once the frames are capped with wax."])
REQUEST_LIMIT = 64 * 1024
UPLOAD_REQUEST_LIMIT = 2 * 1024 * 1024


@pytest.fixture
def keyed(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[str]:
    """A live service with two tenants, small body limits and a metrics key: its base URL."""
    settings = Settings(
        data_dir=tmp_path / "keyed",
        api_keys={KEY_A: "alpha", KEY_B: "beta"},
        max_request_bytes=REQUEST_LIMIT,
        max_upload_bytes=512 * 1024,
        max_upload_request_bytes=UPLOAD_REQUEST_LIMIT,
        metrics_key=METRICS_KEY,
    )
    components = make_components(settings, embedder)
    try:
        with live_server(create_app(settings, components=lambda _s: components)) as url:
            yield url
    finally:
        components.close()


@pytest.fixture
def open_url(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[str]:
    """A live open service (no API keys), with a route that occupies the thread pool for the test."""
    settings = Settings(data_dir=tmp_path / "open")
    components = make_components(settings, embedder)
    app = create_app(settings, components=lambda _s: components)
    release = threading.Event()

    def occupy() -> dict[str, bool]:  # a plain def: runs in, and holds, a thread-pool thread
        return {"released": release.wait(60)}

    async def shrink_pool() -> dict[str, int]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        return {"tokens": 1}

    app.add_api_route("/test/occupy", occupy)
    app.add_api_route("/test/shrink-pool", shrink_pool)
    try:
        with live_server(app) as url:
            try:
                yield url
            finally:
                release.set()  # frees the held pool thread, so the server can stop
    finally:
        components.close()


def _raw_request(url: str, head: str, body_part: bytes, *, wait_s: float = 20) -> bytes:
    """Send a request head and only part of its body, then read what the server answers meanwhile."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=wait_s) as sock:
        sock.sendall(head.encode("latin-1") + body_part)
        received = b""
        deadline = time.monotonic() + wait_s
        while not _complete(received) and time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
        return received


def _complete(raw: bytes) -> bool:
    """Whether ``raw`` holds a whole response (head and its Content-Length of body)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def _status(raw: bytes) -> int:
    assert raw, "no answer while the body was still being sent"
    return int(raw.split(b" ", 2)[1])


def test_a_keyless_request_is_refused_before_its_body_is_read(keyed: str) -> None:
    host = urlsplit(keyed).netloc
    # 400 MB announced, 64 KB sent: the 401 arrives without the server waiting for (or buffering) the rest.
    head = f"POST /v1/search HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {400 * 2**20}\r\n\r\n"
    raw = _raw_request(keyed, head, b'{"query": "' + b"a" * 65536)
    assert _status(raw) == 401 and b"API key" in raw
    # The same for an upload, multipart and chunked: refused on the key, not after spooling files.
    head = f"POST /v1/documents HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert _status(_raw_request(keyed, head, b"10000\r\n" + b"x" * 65536 + b"\r\n")) == 401


def test_a_body_over_its_limit_is_refused_as_it_arrives(keyed: str) -> None:
    host = urlsplit(keyed).netloc
    auth = f"Authorization: Bearer {KEY_A}\r\n"
    # An announced length over the limit: 413 at once.
    head = f"POST /v1/search HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: {2**31}\r\n\r\n"
    raw = _raw_request(keyed, head, b"{")
    assert _status(raw) == 413 and b"request body" in raw
    # A chunked upload announces nothing: it is counted, and refused once past the request limit.
    chunk = b"x" * 65536
    framed = (b"10000\r\n" + chunk + b"\r\n") * (UPLOAD_REQUEST_LIMIT // len(chunk) + 4)
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: {host}\r\n{auth}"
        "Content-Type: multipart/form-data; boundary=b0undary\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    preamble = b'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'
    raw = _raw_request(keyed, head, f"{len(preamble):x}\r\n".encode() + preamble + b"\r\n" + framed)
    assert _status(raw) == 413 and b"upload request (all files together)" in raw
    # A chunked JSON body likewise.
    head = f"POST /v1/answer HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw = _raw_request(keyed, head, (b"10000\r\n" + chunk + b"\r\n") * 3)
    assert _status(raw) == 413 and f"{REQUEST_LIMIT:,}-byte limit".encode() in raw

    # The service still serves, and a normal upload within the limits works.
    with httpx.Client(base_url=keyed, timeout=60, headers=bearer(KEY_A)) as a:
        [doc] = upload_and_wait(a, [("note.txt", NOTE)])
        assert a.get(f"/v1/documents/{doc['document_id']}").status_code == 200


def test_metrics_are_the_operators_when_keys_are_set(keyed: str) -> None:
    with httpx.Client(base_url=keyed, timeout=30) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=bearer(KEY_A)).status_code == 401  # a tenant's key is not enough
        response = client.get("/metrics", headers=bearer(METRICS_KEY))
        assert response.status_code == 200 and "synthrag_jobs" in response.text


def test_open_mode_answers_only_loopback_hosts_and_same_origin_writes(open_url: str) -> None:
    with httpx.Client(base_url=open_url, timeout=60) as client:
        # DNS rebinding: a page on evil.example resolves its name to 127.0.0.1; the Host header still says evil.
        refused = client.get("/v1/documents", headers={"Host": "evil.example"})
        assert refused.status_code == 403 and "loopback" in refused.json()["error"]["message"]
        assert client.get("/healthz", headers={"Host": "evil.example:8000"}).status_code == 403
        assert client.get("/v1/documents", headers={"Host": "localhost"}).status_code == 200

        # A cross-site form POST (no preflight for multipart) is refused and stores nothing.
        for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
            response = client.post("/v1/documents", files=file_parts([("x.txt", NOTE)]), headers=headers)
            assert response.status_code == 403, (headers, response.text)
            assert "cross-site" in response.json()["error"]["message"]
        assert client.get("/v1/documents").json()["total"] == 0
        # The page's own requests (same origin) and non-browser clients (no Origin) write.
        same = {"Origin": open_url, "Sec-Fetch-Site": "same-origin"}
        upload_and_wait(client, [("same.txt", NOTE)])
        response = client.post("/v1/search", json={"query": "honey"}, headers=same)
        assert response.status_code == 200 and response.json()["hits"]

        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"


def test_healthz_answers_while_the_thread_pool_is_busy(open_url: str) -> None:
    with httpx.Client(base_url=open_url, timeout=30) as client:
        assert client.get("/test/shrink-pool").json() == {"tokens": 1}
        holder = threading.Thread(target=lambda: httpx.get(f"{open_url}/test/occupy", timeout=70), daemon=True)
        holder.start()
        time.sleep(0.5)  # the one pool thread is now held
        started = time.perf_counter()
        response = client.get("/healthz", timeout=10)
        assert response.status_code == 200
        assert time.perf_counter() - started < 5
        with pytest.raises(httpx.ReadTimeout):  # the pool really is busy: a plain-def route waits
            client.get("/v1/documents", timeout=2)


def test_a_newline_in_the_path_cannot_forge_a_log_line(open_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("INFO", "text")
    try:
        with httpx.Client(base_url=open_url, timeout=30) as client:
            client.get("/nothing%0a2026-01-01 00:00:00,000 INFO synthrag.access: GET /admin 200")
            client.get("/healthz")
            time.sleep(0.2)
        lines = capsys.readouterr().err.splitlines()
    finally:
        root.handlers[:] = handlers  # as before: configure_logging replaced a handler of ours, if any
        root.setLevel(level)
    forged = [line for line in lines if line.startswith("2026-01-01")]
    assert not forged, forged
    assert any("/nothing\\n2026-01-01" in line and " 404 " in line for line in lines), lines


def test_serve_refuses_an_open_service_on_a_public_address(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHRAG_")}
    environ["SYNTHRAG_DATA_DIR"] = str(tmp_path)
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", "1"]
    result = subprocess.run(command, check=False, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "refusing to serve on 0.0.0.0 without API keys" in result.stderr
    assert "SYNTHRAG_OPEN_ACCESS=true" in result.stderr
