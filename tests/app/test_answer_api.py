"""``POST /v1/answer``: whole and streamed (SSE) answers, refusals, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.components import Components
from app.main import create_app

pytestmark = pytest.mark.slow


@pytest.fixture
def client(answering: Components) -> Iterator[TestClient]:
    with TestClient(create_app(answering.settings, components=lambda _s: answering)) as test_client:
        yield test_client


def _events(raw: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_answer_json_has_answer_citations_and_hits(client: TestClient) -> None:
    response = client.post("/v1/answer", json={"question": "What is a sourdough starter?", "max_tokens": 64})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] and not body["refused"]
    assert body["hits"][0]["source"] == "sample.docx"
    for citation in body["citations"]:
        assert citation["quote"] in body["hits"][citation["number"] - 1]["text"]


def test_answer_stream_sends_tokens_then_final(client: TestClient) -> None:
    with client.stream("POST", "/v1/answer", json={"question": "How are lighthouses lit?", "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.read().decode())
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "final" and kinds.count("final") == 1
    assert kinds.count("token") > 1
    final = events[-1][1]
    assert final["answer"] and final["hits"]


def test_unsupported_question_is_refused(client: TestClient) -> None:
    body = client.post("/v1/answer", json={"question": "What is the capital of Mongolia?"}).json()
    assert body["refused"] is True
    assert body["citations"] == []


@pytest.mark.parametrize(
    "body", [{"question": ""}, {"question": "x", "k": 0}, {"question": "x", "collection": "a/b"}, {}]
)
def test_bad_input_is_422(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/v1/answer", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["message"]
