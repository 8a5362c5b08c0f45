"""Fuzz POST /v1/documents with malformed uploads: never a 5xx, and the service keeps serving.

The app runs with ``workers=0``: uploads are parsed and validated in the request and then only
queued, so the fuzz exercises validation and queueing, not indexing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.components import Components
from app.main import create_app
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import SAMPLES
from tests.conftest import make_components

EXAMPLES = int(os.environ.get("SYNTHRAG_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # no .hypothesis/ folder in the working tree; failures print their reproduction
)
MAX_UPLOAD = 64 * 1024

pytestmark = pytest.mark.slow

NAMES = [
    *SAMPLES,
    "report.PDF",
    "notes.Markdown",
    "page.htm",
    "data.bin",
    "archive.zip",
    "image.png",
    "no-extension",
    ".hidden.txt",
    "../../x.pdf",
    "..\\..\\windows\\x.docx",
    "/etc/passwd",
    "C:\\Users\\x\\doc.txt",
    ".",
    "..",
    " ",
    "\t.txt",
    "a\x00b.txt",
    "CON",
    "x" * 300 + ".pdf",
    "ünïcødé 文件 📄.md",
    "\u202etxt.exe",
]
printable = st.characters(exclude_categories=["Cs"])


@st.composite
def contents(draw: st.DrawFn) -> tuple[str, bytes]:
    """A file's bytes (random, valid, or a valid file damaged) and the sample name it came from."""
    name, valid = draw(st.sampled_from(list(SAMPLES.items())))
    kind = draw(st.sampled_from(["random", "text", "valid", "truncated", "flipped", "inserted", "prefixed"]))
    if kind == "random":
        return name, draw(st.binary(max_size=4096))
    if kind == "text":
        return name, draw(st.text(printable, max_size=2000)).encode("utf-8")
    if kind == "valid":
        return name, valid
    if kind == "truncated":
        return name, valid[: draw(st.integers(0, len(valid)))]
    if kind == "flipped":
        damaged = bytearray(valid)
        for position in draw(st.lists(st.integers(0, len(valid) - 1), min_size=1, max_size=32)):
            damaged[position] = draw(st.integers(0, 255))
        return name, bytes(damaged)
    if kind == "inserted":
        at = draw(st.integers(0, len(valid)))
        return name, valid[:at] + draw(st.binary(min_size=1, max_size=512)) + valid[at:]
    return name, draw(st.binary(min_size=1, max_size=512)) + valid


@st.composite
def uploads(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """One part of the ``files`` field: (file name, bytes, content type)."""
    sample, data = draw(contents())
    stem = draw(st.text(printable, max_size=40))
    name = draw(
        st.one_of(
            st.just(sample),  # name and content agree: the parser is really exercised
            st.sampled_from(NAMES),
            st.sampled_from([".txt", ".md", ".html", ".pdf", ".docx", ""]).map(lambda ext: stem + ext),
            st.text(printable, min_size=1, max_size=400),
        )
    )
    kind = draw(st.sampled_from(["application/octet-stream", "text/plain", "application/pdf", "image/png", ""]))
    return name, data, kind


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(printable, max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(printable, max_size=10), inner, max_size=4),
    max_leaves=20,
)
tags = st.one_of(
    st.none(),
    st.text(printable, max_size=300),
    st.lists(st.text(printable, max_size=120), max_size=60).map(",".join),
    st.lists(json_values, max_size=6).map(json.dumps),
)
metadata = st.one_of(
    st.none(),
    st.text(printable, max_size=300),
    json_values.map(json.dumps),
    st.dictionaries(st.text(printable, max_size=10), json_values, max_size=6).map(json.dumps),
)
collections = st.one_of(
    st.none(),
    st.text(printable, max_size=80),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,70}", fullmatch=True),
    st.sampled_from(["default", "a__b", "../x", "t-x__y", ""]),
)


@dataclass
class Fuzzed:
    client: TestClient
    components: Components


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[Fuzzed]:
    """One app for the module, without workers; server exceptions propagate (with their traceback)."""
    built = make_components(
        Settings(data_dir=tmp_path_factory.mktemp("fuzz") / "data", workers=0, max_upload_bytes=MAX_UPLOAD),
        embedder,
    )
    app = create_app(built.settings, components=lambda _settings: built)
    with TestClient(app, raise_server_exceptions=True, base_url="http://localhost") as client:
        yield Fuzzed(client, built)
    built.close()


def _form(**fields: str | None) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value is not None}


@FUZZ
@given(
    files=st.lists(uploads(), min_size=1, max_size=4),
    tags=tags,
    metadata=metadata,
    collection=collections,
)
def test_malformed_uploads_never_5xx(
    fuzzed: Fuzzed,
    files: list[tuple[str, bytes, str]],
    tags: str | None,
    metadata: str | None,
    collection: str | None,
) -> None:
    parts: list[tuple[str, Any]] = [
        ("files", (name, data, kind) if kind else (name, data)) for name, data, kind in files
    ]
    response = fuzzed.client.post(
        "/v1/documents", files=parts, data=_form(tags=tags, metadata=metadata, collection=collection)
    )
    assert response.status_code < 500, response.text
    event(f"status {response.status_code}")  # pytest --hypothesis-show-statistics shows the mix
    if response.status_code == 202:
        results = response.json()["results"]
        assert len(results) == len(files)
        assert all(r["source"] and "/" not in r["source"] and "\\" not in r["source"] for r in results)
    else:
        assert 400 <= response.status_code < 500
    assert fuzzed.client.get("/healthz").status_code == 200


# Starlette 1.10 / python-multipart 0.0.x: a body that ends inside a file part parses without error
# (MultipartParser.finalize() is a no-op), so the part's SpooledTemporaryFile is neither in the form nor
# closed, and is only reclaimed by GC with a ResourceWarning (cf. Kludex/starlette#3153). The request
# itself is answered 400/422, which is what this test checks; the leak is upstream's to fix.
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <function SpooledTemporaryFile.__del__:pytest.PytestUnraisableExceptionWarning"
)
@FUZZ
@given(
    boundary=st.from_regex(r"[A-Za-z0-9'()+_,./:=?-]{1,70}", fullmatch=True),
    head=st.binary(max_size=200),
    body=st.binary(max_size=2000),
    cut=st.integers(0, 3000),
)
def test_broken_multipart_bodies_never_5xx(fuzzed: Fuzzed, boundary: str, head: bytes, body: bytes, cut: int) -> None:
    raw = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="files"; filename="x.txt"\r\n'
        + head
        + b"\r\n\r\n"
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )[:cut]
    response = fuzzed.client.post(
        "/v1/documents", content=raw, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code < 500, response.text


def test_still_serving_and_consistent_after_fuzz(fuzzed: Fuzzed) -> None:
    components = fuzzed.components
    assert fuzzed.client.get("/healthz").status_code == 200
    ok = fuzzed.client.post("/v1/documents", files=[("files", ("after.txt", b"Fuzzing is over now."))])
    assert ok.status_code == 202, ok.text
    # Every queued job can run: its document is catalogued and its original bytes are stored.
    conn = components.ingest.db.read()
    jobs = conn.execute("SELECT document_id, tenant, blob_sha256 FROM jobs WHERE state='queued'").fetchall()
    assert jobs
    for job in jobs:
        record = components.ingest.catalog.get(job["tenant"], job["document_id"])
        assert record.content_sha256 == job["blob_sha256"]
        assert components.ingest.blobs.get(job["blob_sha256"], tenant=job["tenant"])
