"""Tenants: API keys map to tenants whose documents, searches, answers and models never mix."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.components import Components
from app.main import create_app
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import (
    bearer,
    document_points,
    serve,
    top_source,
    upload,
    upload_and_wait,
    wait_for_job,
)
from tests.conftest import make_components
from tests.fakes import ScriptedChat, ScriptedChats
from tests.fixtures_docs import make_txt

KEY_A = "key-alpha-0123456789"
KEY_B = "key-beta-9876543210"
SECRET = [
    "The Zephyr project codename hides our quarterly launch of the copper-plated kettle.",
    "Only the alpha team knows the kettle ships in Lisbon first.",
]
QUESTION = "Where does the copper-plated kettle of the Zephyr project ship first?"

pytestmark = pytest.mark.slow


@pytest.fixture
def tenant_chat(scripted_chat: ScriptedChats) -> ScriptedChat:
    """Records every prompt, for the isolation checks."""
    return scripted_chat(["According to the documents [1]."], model_id="recording", loop=True)


@pytest.fixture
def tenant_components(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, tenant_chat: ScriptedChat
) -> Iterator[Components]:
    settings = Settings(data_dir=tmp_path / "data", api_keys={KEY_A: "alpha", KEY_B: "beta"})
    components = make_components(settings, embedder).with_chat(tenant_chat)
    yield components
    components.close()


@pytest.fixture
def base_url(tenant_components: Components) -> Iterator[str]:
    with serve(tenant_components) as client:
        yield str(client.base_url).rstrip("/")


def test_tenant_b_cannot_reach_tenant_a_documents(
    base_url: str, tenant_components: Components, tenant_chat: ScriptedChat
) -> None:
    chat = tenant_chat
    with (
        httpx.Client(base_url=base_url, timeout=60, headers=bearer(KEY_A)) as a,
        httpx.Client(base_url=base_url, timeout=60, headers=bearer(KEY_B)) as b,
    ):
        [doc] = upload_and_wait(a, [("zephyr.txt", make_txt(SECRET))])
        [elsewhere] = upload_and_wait(a, [("zephyr.txt", make_txt(SECRET))], collection="launches")
        doc_id, job_id = doc["document_id"], doc["job_id"]
        # Tenants get their own physical collections.
        assert document_points(tenant_components, "t-alpha__default", doc_id) > 0
        assert document_points(tenant_components, "t-alpha__launches", elsewhere["document_id"]) > 0
        assert top_source(a, QUESTION) == "zephyr.txt"

        # Listing and reading.
        assert b.get("/v1/documents").json()["total"] == 0
        assert b.get("/v1/documents", params={"collection": "launches"}).json()["total"] == 0
        assert b.get(f"/v1/documents/{doc_id}").status_code == 404
        assert b.get(f"/v1/jobs/{job_id}").status_code == 404
        assert b.post(f"/v1/jobs/{job_id}/retry").status_code == 404
        assert b.post(f"/v1/documents/{doc_id}/reingest").status_code == 404

        # Searching: B's default collection is empty, A's other collection does not exist for B.
        found = b.post("/v1/search", json={"query": QUESTION})
        assert found.status_code == 200 and found.json()["hits"] == []
        other = b.post("/v1/search", json={"query": QUESTION, "collection": "launches"})
        assert other.status_code == 404 and "launches" in other.json()["error"]["message"]

        # Answering: no source of A's reaches B's answer, or B's prompt.
        answered = b.post("/v1/answer", json={"question": QUESTION})
        assert answered.status_code == 200, answered.text
        assert answered.json()["hits"] == [] and answered.json()["citations"] == []
        body = {"model": "synthrag", "messages": [{"role": "user", "content": QUESTION}]}
        completion = b.post("/v1/chat/completions", json=body)
        assert completion.status_code == 200, completion.text
        assert completion.json()["sources"] == []
        launches = b.post("/v1/chat/completions", json={**body, "model": "launches"})
        assert launches.status_code == 404
        assert not any("Zephyr" in prompt or "Lisbon" in prompt for prompt in chat.prompts)
        # ...while A's own answer does use its document (so the checks above can fail).
        own = a.post("/v1/chat/completions", json=body).json()
        assert own["sources"] and own["sources"][0]["document_id"] == doc_id
        assert any("Lisbon" in prompt for prompt in chat.prompts)

        # Deleting.
        assert b.delete(f"/v1/documents/{doc_id}").status_code == 404
        assert a.get(f"/v1/documents/{doc_id}").json()["status"] == "indexed"
        assert document_points(tenant_components, "t-alpha__default", doc_id) > 0
        assert top_source(a, QUESTION) == "zephyr.txt"

        # Models: each tenant sees its own collections only.
        models_a = {m["id"] for m in a.get("/v1/models").json()["data"]}
        models_b = {m["id"] for m in b.get("/v1/models").json()["data"]}
        assert models_a == {"synthrag", "default", "launches"}
        assert models_b == {"synthrag", "default"}


def test_same_file_for_two_tenants_is_two_documents(base_url: str, tenant_components: Components) -> None:
    data = make_txt(SECRET)
    with (
        httpx.Client(base_url=base_url, timeout=60, headers=bearer(KEY_A)) as a,
        httpx.Client(base_url=base_url, timeout=60, headers=bearer(KEY_B)) as b,
    ):
        [of_a] = upload_and_wait(a, [("zephyr.txt", data)])
        [of_b] = upload_and_wait(b, [("zephyr.txt", data)])
        assert of_b["duplicate"] is False and of_b["document_id"] != of_a["document_id"]
        assert b.delete(f"/v1/documents/{of_b['document_id']}").status_code == 200
        assert document_points(tenant_components, "t-beta__default", of_b["document_id"]) == 0
        assert document_points(tenant_components, "t-alpha__default", of_a["document_id"]) > 0
        assert top_source(a, QUESTION) == "zephyr.txt"
        assert top_source(b, QUESTION) is None
        # A re-upload by B is a new document again, not a duplicate of A's.
        response = upload(b, [("zephyr.txt", data)])
        [again] = response.json()["results"]
        assert again["duplicate"] is False
        assert wait_for_job(b, again["job_id"])["state"] == "done"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Authorization: Bearer"),
        ({"Authorization": "Bearer"}, "Authorization: Bearer"),
        ({"Authorization": f"Basic {KEY_A}"}, "Authorization: Bearer"),
        ({"Authorization": KEY_A}, "Authorization: Bearer"),
        ({"Authorization": "Bearer not-a-real-key-000000"}, "unknown API key"),
        ({"Authorization": f"Bearer {KEY_A}x"}, "unknown API key"),
    ],
)
def test_missing_or_unknown_key_is_401(base_url: str, headers: dict[str, str], message: str) -> None:
    for method, path in [
        ("GET", "/v1/documents"),
        ("POST", "/v1/search"),
        ("POST", "/v1/documents"),
        ("GET", "/v1/models"),
        ("GET", "/v1/jobs/x"),
    ]:
        response = httpx.request(method, f"{base_url}{path}", headers=headers, json={"query": "x"}, timeout=30)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert message in response.json()["error"]["message"]
    assert httpx.get(f"{base_url}/healthz", headers=headers, timeout=30).status_code == 200


def test_no_keys_means_an_open_service_with_a_warning(components: Components, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(components.settings, components=lambda _settings: components)
    with caplog.at_level(logging.WARNING, logger="app.main"), TestClient(app, base_url="http://localhost") as client:
        assert client.get("/v1/documents").status_code == 200
        response = client.post(
            "/v1/documents", files=[("files", ("open.txt", make_txt(["Anyone may read this."]), "text/plain"))]
        )
        assert response.status_code == 202, response.text
        assert client.get("/v1/documents").json()["total"] == 1
    warnings = [r for r in caplog.records if r.name == "app.main" and r.levelno == logging.WARNING]
    assert any("SYNTHRAG_API_KEYS" in r.getMessage() and "open" in r.getMessage() for r in warnings)
