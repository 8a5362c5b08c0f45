"""Upload limits and bad input: each is refused with a clear 4xx, and the service keeps its data and serves."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.components import Components
from app.main import create_app
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import SAMPLES, file_parts, wait_for_job
from tests.conftest import make_components
from tests.fixtures_docs import (
    make_encrypted_pdf,
    make_pdf,
    make_txt,
    make_zip,
    make_zip_bomb,
)

MAX_UPLOAD = 256 * 1024
MAX_PAGE = 1000
MAX_DOCUMENT = 4000
GOOD = make_txt(["Otters crack shellfish open with small stones while floating on their backs."])
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
WORDS = "lorem ipsum dolor sit amet consectetur "


@dataclass
class Served:
    client: TestClient
    components: Components
    indexed_id: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[Served]:
    """One service (with a worker) for the whole module, holding one indexed document."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("limits") / "data",
        max_upload_bytes=MAX_UPLOAD,
        max_page_chars=MAX_PAGE,
        max_document_chars=MAX_DOCUMENT,
    )
    components = make_components(settings, embedder)
    app = create_app(settings, components=lambda _settings: components)
    with TestClient(app, base_url="http://localhost") as client:
        response = client.post("/v1/documents", files=file_parts([("sample.txt", SAMPLES["sample.txt"])]))
        assert response.status_code == 202, response.text
        [result] = response.json()["results"]
        assert wait_for_job(client, result["job_id"])["state"] == "done"
        yield Served(client, components, result["document_id"])
    components.close()


def snapshot(served: Served) -> dict[str, Any]:
    """What must not change when a request is refused."""
    return {
        "points": served.components.search.store.count("default"),
        "documents": served.client.get("/v1/documents").json()["total"],
        "jobs": served.components.ingest.jobs.counts(),
    }


def assert_still_serving(served: Served, before: dict[str, Any]) -> None:
    assert served.client.get("/healthz").status_code == 200
    assert snapshot(served) == before
    hits = served.client.post("/v1/search", json={"query": "honey bees in the hive", "k": 1}).json()["hits"]
    assert hits and hits[0]["document_id"] == served.indexed_id


@dataclass(frozen=True)
class Bad:
    files: list[tuple[str, bytes]]
    status: int
    words: tuple[str, ...]
    form: tuple[tuple[str, str], ...] = ()


PDF = SAMPLES["sample.pdf"]
BAD_FILES = {
    # Refused on Content-Length, before the body is read into a file...
    "far over max_upload_bytes": Bad([("big.txt", (WORDS * 12000).encode())], 413, ("request of", "262,144")),
    # ...or on the file's own size.
    "just over max_upload_bytes": Bad([("big.txt", b"x" * (MAX_UPLOAD + 1))], 413, ("big.txt", "262,144")),
    "one of two files too large": Bad(
        [("ok.txt", GOOD), ("big.txt", b"x" * (MAX_UPLOAD + 1))], 413, ("big.txt", "262,144-byte limit")
    ),
    "png renamed .txt": Bad([("photo.txt", PNG)], 422, ("photo.txt", "does not look like text")),
    "random bytes named .pdf": Bad([("junk.pdf", os.urandom(2000))], 422, ("junk.pdf", "not a readable PDF")),
    "random bytes, unknown type": Bad([("junk.bin", os.urandom(2000))], 415, ("junk.bin", "supported types")),
    "random bytes, no extension": Bad([("junk", os.urandom(2000))], 415, ("junk", "supported types")),
    "png with its own name": Bad([("photo.png", PNG)], 415, ("photo.png", ".png", "supported types")),
    "zip that is not a docx": Bad([("a.zip", make_zip({"a.txt": b"hello"}))], 415, ("a.zip", "zip archive")),
    "truncated pdf": Bad([("cut.pdf", PDF[: len(PDF) // 2])], 422, ("cut.pdf", "not a readable PDF")),
    "pdf without a text layer": Bad([("scan.pdf", make_pdf([""]))], 422, ("scan.pdf", "no text layer")),
    "encrypted pdf": Bad([("locked.pdf", make_encrypted_pdf(["Top secret."]))], 422, ("locked.pdf", "password")),
    "docx zip bomb": Bad([("bomb.docx", make_zip_bomb())], 422, ("bomb.docx", "zip bomb")),
    "docx that is not a zip": Bad([("report.docx", b"just some text " * 20)], 422, ("report.docx", "DOCX")),
    "truncated docx": Bad([("cut.docx", SAMPLES["sample.docx"][:3000])], 422, ("cut.docx", "DOCX")),
    "empty file": Bad([("empty.txt", b"")], 422, ("empty.txt", "empty")),
    "blank file": Bad([("blank.md", b" \n\t\n ")], 422, ("blank.md", "empty")),
    "oversized pdf page": Bad([("dump.pdf", make_pdf([WORDS * 40]))], 422, ("dump.pdf", "page 1", "1,000")),
    "oversized text section": Bad([("dump.txt", (WORDS * 40).encode())], 422, ("dump.txt", "1,000")),
    "document over max_document_chars": Bad(
        [("long.txt", make_txt([WORDS * 20] * 6))], 422, ("long.txt", "4,000", "Split")
    ),
    # A rejected request stores nothing, not even the files before the bad one.
    "good file, then an empty one": Bad([("fine.txt", GOOD), ("empty.txt", b"")], 422, ("empty.txt",)),
    "good file, then a corrupt one": Bad([("fine.txt", GOOD), ("bad.pdf", b"%PDF-1.4 junk")], 422, ("bad.pdf",)),
    "good file, then one without a usable name": Bad([("fine.txt", GOOD), ("..", GOOD)], 422, ("file name",)),
    "more than 100 files": Bad([(f"f{i}.txt", GOOD) for i in range(101)], 422, ("at most 100 files",)),
}
BAD_FORMS = {
    "metadata not JSON": ({"metadata": '{"a": '}, ("metadata", "not valid JSON")),
    "metadata a list": ({"metadata": "[1, 2]"}, ("metadata", "JSON object")),
    "metadata a string": ({"metadata": '"text"'}, ("metadata", "JSON object")),
    "metadata NaN": ({"metadata": '{"a": NaN}'}, ("metadata", "NaN")),
    "metadata Infinity": ({"metadata": '{"a": [-Infinity]}'}, ("metadata", "Infinity")),
    "metadata float overflow": ({"metadata": '{"a": {"b": 1e400}}'}, ("metadata", "finite")),
    "metadata int over 64 bits": ({"metadata": '{"a": 18446744073709551616}'}, ("metadata", "64 bits")),
    "metadata int of 5000 digits": ({"metadata": '{"a": ' + "7" * 5000 + "}"}, ("metadata",)),
    "metadata nested too deep": ({"metadata": '{"a": ' + "[" * 5000 + "]" * 5000 + "}"}, ("metadata",)),
    "metadata over 64 KiB": ({"metadata": json.dumps({"a": "x" * 70_000})}, ("metadata", "64 KiB")),
    "tags not JSON": ({"tags": '["a", '}, ("tags", "not a JSON list")),
    "tags not strings": ({"tags": '["a", 1]'}, ("tags", "list of strings")),
    "tags nested": ({"tags": '[["a"]]'}, ("tags", "list of strings")),
    "tags nested too deep": ({"tags": "[" * 50_000 + "]" * 50_000}, ("tags",)),
    "too many tags": ({"tags": ",".join(f"t{i}" for i in range(51))}, ("tags", "at most 50")),
    "tag too long": ({"tags": "x" * 101}, ("tags", "100 characters")),
    "collection with spaces": ({"collection": "my docs"}, ("collection", "letters, digits")),
    "collection too long": ({"collection": "c" * 65}, ("collection",)),
    "collection starting with a dash": ({"collection": "-x"}, ("collection",)),
    "collection path traversal": ({"collection": "../etc"}, ("collection",)),
    "collection with the reserved separator": ({"collection": "a__b"}, ("collection", "reserved")),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_file_is_refused_and_nothing_changes(served: Served, case: Bad) -> None:
    before = snapshot(served)
    response = served.client.post("/v1/documents", files=file_parts(case.files), data=dict(case.form))
    assert response.status_code == case.status, response.text
    message = response.json()["error"]["message"]
    for word in case.words:
        assert word in message, message
    assert_still_serving(served, before)


@pytest.mark.slow
@pytest.mark.parametrize(("form", "words"), list(BAD_FORMS.values()), ids=list(BAD_FORMS))
def test_bad_form_field_is_422_and_nothing_changes(served: Served, form: dict[str, str], words: tuple[str]) -> None:
    before = snapshot(served)
    response = served.client.post("/v1/documents", files=file_parts([("fine.txt", GOOD)]), data=form)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    for word in words:
        assert word in message, message
    assert_still_serving(served, before)


@pytest.mark.slow
@pytest.mark.parametrize(
    "body",
    [
        {"data": {"collection": "default"}},
        {"files": [("files", (None, "not a file"))]},
        {"files": [("file", ("fine.txt", GOOD, "text/plain"))]},
        {"content": b"{}", "headers": {"content-type": "application/json"}},
        {"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}},
    ],
    ids=["no files", "files as a text field", "wrong field name", "json body", "broken multipart"],
)
def test_no_files_is_refused(served: Served, body: dict[str, Any]) -> None:
    before = snapshot(served)
    response = served.client.post("/v1/documents", **body)
    assert response.status_code in (400, 422), response.text
    assert_still_serving(served, before)


@pytest.mark.slow
def test_the_worker_still_indexes_after_bad_input(served: Served) -> None:
    response = served.client.post(
        "/v1/documents",
        files=file_parts([("otters.txt", GOOD)]),
        data={"tags": '["otters"]', "metadata": '{"n": 1, "ok": true, "x": null}'},
    )
    assert response.status_code == 202, response.text
    [result] = response.json()["results"]
    assert wait_for_job(served.client, result["job_id"])["state"] == "done"
    hits = served.client.post("/v1/search", json={"query": "otters cracking shellfish", "k": 1}).json()["hits"]
    assert hits[0]["source"] == "otters.txt" and hits[0]["metadata"]["n"] == 1
