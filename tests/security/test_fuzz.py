"""Fuzz every ``/v1`` route of a live server from its own OpenAPI schema: never a 5xx, /healthz always quick.

Real uvicorn on loopback, two tenants, the real embedder and store, a scripted chat model (the fuzz is
about input handling, not generation speed). Each request is one route from ``/openapi.json`` with a
generated method-appropriate body (schema-shaped with hostile values, arbitrary JSON, or raw bytes
under a random content type), query string, path ids and headers (keys valid, wrong or absent). A
thread polls ``/healthz`` throughout. ``SYNTHRAG_FUZZ_REQUESTS`` sets the count (default 1,000).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import SAMPLES, bearer, serve, upload_and_wait
from tests.conftest import make_components
from tests.fakes import ScriptedChats
from tests.fixtures_docs import make_txt

pytestmark = pytest.mark.slow

REQUESTS = int(os.environ.get("SYNTHRAG_FUZZ_REQUESTS", "1000"))
KEY_A = "key-alpha-0123456789"
KEY_B = "key-beta-9876543210"
HEALTH_BOUND_S = 1.0

printable = st.characters(exclude_categories=["Cs"])
hostile_text = st.one_of(
    st.text(printable, max_size=40),
    st.text(max_size=40),  # surrogates included: json.dumps writes them as \ud800 escapes
    st.sampled_from(["", " ", "\x00", "a[", "../../etc/passwd", "<|im_start|>system", "%0a", "𝔘" * 50]),
    st.text(printable, min_size=2000, max_size=6000),
)
hostile_number = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.sampled_from([0, -1, 10**9 + 1, 2**63])
)
scalars = st.none() | st.booleans() | hostile_number | hostile_text
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(printable, max_size=12), inner, max_size=5),
    max_leaves=25,
)


@dataclass(repr=False)  # a short repr: Hypothesis prints the strategy's arguments
class Fuzzing:
    url: str
    schema: dict[str, Any]
    routes: list[tuple[str, str]]
    ids: list[str]
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Fuzzing({self.url})"


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        *_, name = schema["$ref"].split("/")
        schema = root["components"]["schemas"][name]
    return schema


def _shaped(schema: dict[str, Any], root: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of the schema's shape, each leaf sometimes replaced by a hostile value of any type."""
    schema = _resolve(schema, root)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return st.one_of([_shaped(o, root, depth + 1) for o in options])
    if "enum" in schema:
        typed: st.SearchStrategy[Any] = st.sampled_from(schema["enum"])
    elif schema.get("type") == "object" and depth < 4:
        props = schema.get("properties", {})
        typed = st.fixed_dictionaries(
            {}, optional={name: _shaped(sub, root, depth + 1) for name, sub in props.items()}
        ) | st.dictionaries(st.text(printable, max_size=12), any_json, max_size=4)
    elif schema.get("type") == "array" and depth < 4:
        typed = st.lists(_shaped(schema.get("items", {}), root, depth + 1), max_size=6)
    elif schema.get("type") == "string":
        typed = hostile_text
    elif schema.get("type") in ("integer", "number"):
        typed = hostile_number
    elif schema.get("type") == "boolean":
        typed = st.booleans()
    else:
        typed = any_json
    return st.one_of(typed, typed, typed, any_json)


@st.composite
def requests(draw: st.DrawFn, fuzz: Fuzzing) -> httpx.Request:
    """One request to a /v1 route of the schema."""
    method, path = draw(st.sampled_from(fuzz.routes))
    operation = fuzz.schema["paths"][path][method]
    for name in ("document_id", "job_id"):
        if "{" + name + "}" in path:
            value = draw(st.one_of(st.sampled_from(fuzz.ids), st.text(printable, min_size=1, max_size=80)))
            path = path.replace("{" + name + "}", quote(value, safe="") or "x")
    params = {
        p["name"]: draw(st.one_of(st.from_type(str), hostile_number.map(str)))
        for p in operation.get("parameters", [])
        if p["in"] == "query" and draw(st.booleans())
    }
    headers = draw(st.sampled_from([bearer(KEY_A), bearer(KEY_A), bearer(KEY_B), {}, {"Authorization": "Bearer x"}]))
    content: bytes | None = None
    files = None
    data = None
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        kind = draw(st.sampled_from(["shaped", "shaped", "json", "bytes"]))
        if kind == "bytes":
            content = draw(st.binary(max_size=3000))
            headers = {**headers, "content-type": draw(st.sampled_from(["application/json", "text/plain", ""]))}
        else:
            value = draw(_shaped(body["application/json"]["schema"], fuzz.schema) if kind == "shaped" else any_json)
            content = json.dumps(value).encode()
            headers = {**headers, "content-type": "application/json"}
    elif "multipart/form-data" in body:
        parts = draw(st.lists(st.tuples(st.sampled_from(list(SAMPLES)), st.booleans()), min_size=0, max_size=3))
        files = [
            ("files", (name, SAMPLES[name] if valid else draw(st.binary(max_size=2000)), "application/octet-stream"))
            for name, valid in parts
        ]
        data = {k: draw(hostile_text) for k in ("collection", "tags", "metadata") if draw(st.booleans())}
    return httpx.Request(
        method.upper(), fuzz.url + path, params=params, headers=headers, content=content, files=files, data=data
    )


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[Fuzzing]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz-all") / "data"
    settings_ = Settings(data_dir=data_dir, api_keys={KEY_A: "alpha", KEY_B: "beta"}, max_upload_bytes=64 * 1024)
    chats = ScriptedChats()
    components = make_components(settings_, embedder).with_chat(chats(["Honey comes in late summer [1]."], loop=True))
    try:
        with serve(components, headers=bearer(KEY_A)) as client:
            [doc] = upload_and_wait(client, [("note.txt", make_txt(["Honey is harvested in late summer."]))])
            schema = client.get("/openapi.json").json()
            routes = [
                (method, path) for path, ops in schema["paths"].items() if path.startswith("/v1/") for method in ops
            ]
            yield Fuzzing(str(client.base_url).rstrip("/"), schema, routes, [doc["document_id"], doc["job_id"]])
    finally:
        chats.release_all()
        components.close()


def test_every_v1_route_survives_generated_requests(fuzz: Fuzzing) -> None:
    assert len({path for _, path in fuzz.routes}) >= 8  # search, answer, chat, models, documents, jobs, ...
    health: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=fuzz.url, timeout=10) as probe:
            while not stop.is_set():
                started = time.perf_counter()
                ok = probe.get("/healthz").status_code == 200
                health.append(time.perf_counter() - started if ok else float("inf"))
                stop.wait(0.1)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    client = httpx.Client(timeout=60)

    @settings(
        max_examples=REQUESTS,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests(fuzz))
    def one(request: httpx.Request) -> None:
        try:
            response = client.send(request)
        except httpx.TransportError as exc:  # a reset connection: counted, and tried once more on a new one
            fuzz.transport_errors.append(f"{request.method} {request.url.path}: {exc!r}")
            with httpx.Client(timeout=60) as fresh:
                response = fresh.send(request)
        fuzz.statuses[response.status_code] += 1
        if response.status_code >= 500:
            fuzz.failures.append(
                f"{request.method} {request.url.path} -> {response.status_code}: {response.text[:300]}"
            )

    try:
        random.seed(0)
        one()
    finally:
        stop.set()
        poller.join(timeout=15)
        client.close()
    sent = sum(fuzz.statuses.values())
    print(
        f"fuzz: {sent} requests, statuses {dict(sorted(fuzz.statuses.items()))}; /healthz polls {len(health)}, "
        f"max {max(health):.3f} s; transport errors retried: {len(fuzz.transport_errors)}"
    )
    assert sent >= REQUESTS
    # A connection reset that a retry does not see again is tolerated, rarely; a response >= 500 never.
    assert len(fuzz.transport_errors) <= REQUESTS // 100, fuzz.transport_errors[:5]
    assert not fuzz.failures, fuzz.failures[:5]
    assert health and max(health) < HEALTH_BOUND_S, sorted(health)[-5:]
    refused = sum(count for status, count in fuzz.statuses.items() if 400 <= status < 500)
    assert fuzz.statuses[200] + fuzz.statuses[202] > 0 and refused > 0  # both paths were exercised
