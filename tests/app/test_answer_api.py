"""``POST /v1/answer``: whole and streamed (SSE) answers, refusals, bad input."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from answer.repetition import find_repetition
from app.components import Components
from app.main import create_app
from llm.llama_cpp import LlamaCppChatModel
from tests.fixtures_docs import LOOPING_QUESTION

pytestmark = pytest.mark.slow


@pytest.fixture
def client(answering: Components) -> Iterator[TestClient]:
    with TestClient(
        create_app(answering.settings, components=lambda _s: answering), base_url="http://localhost"
    ) as test_client:
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
    assert body["mode"] in ("generated", "extractive")  # combined: the model, or quotes when it is not grounded
    assert body["stop_reason"] in ("stop", "length", "repetition")
    assert isinstance(body["unsupported"], list)


def test_extractive_answer_quotes_exact_spans(client: TestClient) -> None:
    response = client.post("/v1/answer", json={"question": "How is honey harvested?", "answer_mode": "extractive"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "extractive" and not body["refused"] and body["completion_tokens"] == 0
    assert body["citations"] and body["unsupported"] == []
    for citation in body["citations"]:
        hit = body["hits"][citation["number"] - 1]
        assert hit["text"][citation["start"] - hit["start"] : citation["end"] - hit["start"]] == citation["quote"]
        assert f"{citation['quote']} [{citation['number']}]" in body["answer"]
    assert "capped with wax" in body["answer"]


def test_extractive_stream_sends_the_quotes_and_the_final_answer(client: TestClient) -> None:
    request = {"question": "How is honey harvested?", "answer_mode": "extractive", "stream": True}
    with client.stream("POST", "/v1/answer", json=request) as r:
        events = _events(r.read().decode())
    final = events[-1][1]
    assert events[-1][0] == "final" and final["mode"] == "extractive"
    assert "".join(str(data["text"]) for kind, data in events if kind == "token") == final["answer"]


def test_a_looping_answer_never_streams_the_repeat(answering: Components, llama_model: LlamaCppChatModel) -> None:
    # Greedy and without the repeat penalty (with it, this answer does not loop): the guard is under test.
    settings = answering.settings.model_copy(update={"answer_temperature": 0.0, "answer_repeat_penalty": 1.0})
    greedy = dataclasses.replace(answering, settings=settings).with_chat(llama_model)
    request = {"question": LOOPING_QUESTION, "answer_mode": "generated", "max_tokens": 256, "stream": True}
    with (
        TestClient(
            create_app(greedy.settings, components=lambda _s: greedy), base_url="http://localhost"
        ) as test_client,
        test_client.stream("POST", "/v1/answer", json=request) as r,
    ):
        events = _events(r.read().decode())
    streamed = "".join(str(data["text"]) for kind, data in events if kind == "token")
    final = events[-1][1]
    assert events[-1][0] == "final" and final["stop_reason"] == "repetition"
    assert streamed.strip() and find_repetition(streamed) is None
    assert find_repetition(str(final["answer"])) is None


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
    "body",
    [
        {"question": ""},
        {"question": "x", "k": 0},
        {"question": "x", "collection": "a/b"},
        {"question": "x", "answer_mode": "poetry"},
        {},
    ],
)
def test_bad_input_is_422(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/v1/answer", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["message"]
