"""Bad input answered with a 4xx that says what to change (hardening issue, finding 9), against a live server.

Real uvicorn on loopback, two tenants by API key, the real embedder and store. Each case answered 500 or
503 before its fix; after a bad request the service still answers and the tenant's documents are intact.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import bearer, serve, upload, upload_and_wait
from tests.conftest import make_components
from tests.fakes import ScriptedChat, ScriptedChats
from tests.fixtures_docs import make_txt

pytestmark = pytest.mark.slow

KEY_A = "key-alpha-0123456789"
KEY_B = "key-beta-9876543210"
NOTE = "Beekeepers harvest honey in late summer once the frames are capped with wax."


@pytest.fixture
def chat(scripted_chat: ScriptedChats) -> ScriptedChat:
    return scripted_chat(["Honey is harvested in late summer [1]."], loop=True)


@pytest.fixture
def base_url(tmp_path: Path, embedder: SentenceTransformerEmbedder, chat: ScriptedChat) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path / "data", api_keys={KEY_A: "alpha", KEY_B: "beta"})
    components = make_components(settings, embedder).with_chat(chat)
    try:
        with serve(components) as client:
            yield str(client.base_url).rstrip("/")
    finally:
        components.close()


def _fresh(base_url: str, key: str) -> httpx.Client:
    # A new connection per request: a server error may close the one before.
    return httpx.Client(base_url=base_url, timeout=60, headers=bearer(key))


def _says(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["error"]["message"]
    for word in words:
        assert word in message, message
    assert "t-alpha" not in response.text and "qdrant" not in response.text.lower()  # no internal names


def test_bad_input_gets_4xx_and_the_service_stays_up(base_url: str) -> None:
    with _fresh(base_url, KEY_A) as a:
        [doc] = upload_and_wait(a, [("note.txt", make_txt([NOTE]))])

    # An HTML page declaring a charset that does not exist, with a byte that is not UTF-8: it ingests.
    page = b'<html><head><meta charset="undefined"><title>Hives</title></head><body>caf\xe9 and hives</body></html>'
    with _fresh(base_url, KEY_A) as a:
        [html] = upload_and_wait(a, [("hives.html", page)])
        assert html["status"] == "queued"

    with _fresh(base_url, KEY_A) as a:
        _says(a.get("/v1/documents", params={"offset": str(10**20)}), 422, "offset", "less than or equal")

    surrogate = '"honey \\ud800 frames"'
    with _fresh(base_url, KEY_A) as a:
        body = '{"query": ' + surrogate + "}"
        response = a.post("/v1/search", content=body, headers={"content-type": "application/json"})
        _says(response, 422, "query holds a lone UTF-16 surrogate")
    with _fresh(base_url, KEY_A) as a:
        body = '{"model": "synthrag", "messages": [{"role": "user", "content": ' + surrogate + "}]}"
        response = a.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        _says(response, 422, "messages[0].content holds a lone UTF-16 surrogate")
    with _fresh(base_url, KEY_A) as a:
        body = '{"question": ' + surrogate + "}"
        response = a.post("/v1/answer", content=body, headers={"content-type": "application/json"})
        _says(response, 422, "question holds a lone UTF-16 surrogate")

    with _fresh(base_url, KEY_A) as a:  # a JSON body that is not UTF-8 (found by tests/security/test_fuzz.py)
        response = a.post("/v1/search", content=b"\xff\xfe{", headers={"content-type": "application/json"})
        _says(response, 400, "error parsing the body")
    with _fresh(base_url, KEY_A) as a:
        response = a.post("/v1/search", json={"query": "honey", "filters": {"metadata": {"a[": "x"}}})
        _says(response, 422, "metadata filter keys are", "'a['")

    with _fresh(base_url, KEY_A) as a:
        response = upload(a, [("note2.txt", make_txt([NOTE]))], collection="c" * 65)
        _says(response, 422, "collection names use letters", "max 64")
        # The longest valid name also works once prefixed with the tenant: the job is done, not failed.
        upload_and_wait(a, [("note3.txt", make_txt([NOTE]))], collection="c" * 64)
        hits = a.post("/v1/search", json={"query": "honey harvest", "collection": "c" * 64}).json()["hits"]
        assert hits and hits[0]["source"] == "note3.txt"

    # Still up, and nothing stored was lost: both documents are there and searchable.
    with _fresh(base_url, KEY_A) as a:
        assert a.get("/healthz").status_code == 200
        listed = a.get("/v1/documents").json()
        assert {d["id"] for d in listed["documents"]} >= {doc["document_id"], html["document_id"]}
        hits = a.post("/v1/search", json={"query": "when is honey harvested"}).json()["hits"]
        assert any("late summer" in h["text"] for h in hits)
    with _fresh(base_url, KEY_B) as b:  # the other tenant sees none of it
        assert b.get("/v1/documents").json()["total"] == 0
