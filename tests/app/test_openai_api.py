"""OpenAI-compatible API on a real uvicorn server, driven by the official ``openai`` client."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from app.components import Components
from app.main import create_app
from tests.fakes import ScriptedChats
from tests.live_server import live_server

pytestmark = pytest.mark.slow


@pytest.fixture
def base_url(answering: Components) -> Iterator[str]:
    app = create_app(answering.settings, components=lambda _s: answering)
    with live_server(app) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)


def test_models_lists_the_collections(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert "default" in ids
    assert "synthrag" in ids


def test_chat_completion_returns_text_and_sources(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "What is a sourdough starter?"}],
        max_tokens=64,
    )
    assert response.choices[0].message.content
    extra: dict[str, Any] = response.model_extra or {}
    sources = extra["sources"]
    assert sources and sources[0]["source"] == "sample.docx"
    assert all({"number", "source", "text", "document_id"} <= s.keys() for s in sources)
    assert response.usage is not None and response.usage.completion_tokens > 0


def test_streaming_chat_completion(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="synthrag",
        messages=[{"role": "user", "content": "How are lighthouses lit?"}],
        max_tokens=48,
        stream=True,
    )
    pieces: list[str] = []
    last: Any = None
    for chunk in stream:
        last = chunk
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    assert len(pieces) > 1 and "".join(pieces).strip()
    assert last is not None and last.choices[0].finish_reason == "stop"
    assert (last.model_extra or {})["sources"][0]["source"] == "sample.pdf"


def test_multi_turn_follow_up_uses_the_history(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="default",
        messages=[
            {"role": "user", "content": "Tell me about sourdough baking."},
            {"role": "assistant", "content": "Sourdough bread rises with a starter."},
            {"role": "user", "content": "How long should it rise?"},
        ],
        max_tokens=48,
    )
    assert (response.model_extra or {})["sources"][0]["source"] == "sample.docx"


def test_errors_use_the_openai_shape(client: openai.OpenAI, base_url: str) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-collection", messages=[{"role": "user", "content": "hi"}])
    assert "no-such-collection" in str(missing.value)
    bad = httpx.post(f"{base_url}/v1/chat/completions", json={"model": "default", "messages": []}, timeout=30)
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert {"message", "type", "param", "code"} <= error.keys()
    assert "messages" in error["message"]
    assert httpx.get(f"{base_url}/healthz", timeout=10).status_code == 200


def test_full_queue_answers_429_and_server_stays_responsive(
    components: Components, scripted_chat: ScriptedChats
) -> None:
    from tests.fixtures_docs import make_txt

    (path := components.settings.data_dir.parent / "s.txt").write_bytes(make_txt(["Sourdough bread rises."]))
    from ingest.files import collect_files, load_item

    found, _ = collect_files([path])
    components.ingest.ingestor.ingest([load_item(found[0])], collection="default")
    # A generation that lasts until released: the queue test needs one in flight.
    slow = scripted_chat(["Sourdough rises slowly."], model_id="slow", loop=True, hold=True)
    # No waiting room: with one generation running, the next request is refused.
    no_queue = components.settings.model_copy(update={"generation_queue": 0})
    components = dataclasses.replace(components, settings=no_queue).with_chat(slow)
    body = {"model": "default", "messages": [{"role": "user", "content": "How does sourdough rise?"}]}
    app = create_app(components.settings, components=lambda _s: components)
    with live_server(app) as url:
        results: list[int] = []
        first = threading.Thread(
            target=lambda: results.append(httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60).status_code)
        )
        first.start()
        assert slow.started.wait(timeout=30)
        started = time.monotonic()
        busy = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)
        assert time.monotonic() - started < 5  # refused at once, not queued
        assert busy.status_code == 429
        assert int(busy.headers["Retry-After"]) >= 1
        assert "busy" in busy.json()["error"]["message"]
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert httpx.post(f"{url}/v1/search", json={"query": "sourdough"}, timeout=30).status_code == 200
        slow.release.set()
        first.join(timeout=60)
        assert results == [200]
        again = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)
        assert again.status_code == 200


def test_streamed_chat_that_fails_grounding_ends_with_the_quotes(
    answering: Components, scripted_chat: ScriptedChats
) -> None:
    from fastapi.testclient import TestClient

    from app.routes.openai_chat import FALLBACK_NOTE

    components = answering.with_chat(scripted_chat(["Bees navigate by the stars and sing at 40 hertz."], loop=True))
    body = {"model": "default", "messages": [{"role": "user", "content": "How is honey harvested?"}]}
    with TestClient(
        create_app(components.settings, components=lambda _s: components), base_url="http://localhost"
    ) as test_client:
        plain = test_client.post("/v1/chat/completions", json=body).json()
        with test_client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
            lines = [line[6:] for line in response.iter_lines() if line.startswith("data: {")]
    assert plain["mode"] == "extractive" and plain["stop_reason"] == "stop" and plain["unsupported"] == []
    assert "harvested" in plain["choices"][0]["message"]["content"]
    chunks = [json.loads(line) for line in lines]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert content.startswith("Bees navigate by the stars")
    assert content.endswith(FALLBACK_NOTE + plain["choices"][0]["message"]["content"])
    assert chunks[-1]["mode"] == "extractive"
