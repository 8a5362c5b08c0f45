"""REST API through FastAPI's TestClient on real components (embedded store, real MiniLM)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.components import Components
from app.main import create_app
from ingest.files import collect_files, load_item
from tests.fixtures_docs import write_sample_folder


@pytest.fixture
def client(components: Components, tmp_path: Path) -> Iterator[TestClient]:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_sample_folder(folder)
    found, problems = collect_files([folder])
    assert not problems
    outcomes = components.ingest.ingestor.ingest(
        (load_item(f, tags=["samples"]) for f in found), collection=components.settings.collection
    )
    assert all(o.status == "indexed" for o in outcomes)
    app = create_app(components.settings, components=lambda _settings: components)
    with TestClient(app, base_url="http://localhost") as test_client:
        yield test_client


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


TOPICS = [
    ("honey bees in the hive", "sample.txt"),
    ("volcanic eruptions and magma", "sample.md"),
    ("chess openings", "sample.html"),
    ("lighthouse history", "sample.pdf"),
    ("sourdough starter and baking bread", "sample.docx"),
]


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid", "hybrid-mmr"])
def test_search_each_mode_finds_each_format(client: TestClient, mode: str) -> None:
    for query, source in TOPICS:
        response = client.post("/v1/search", json={"query": query, "k": 3, "mode": mode})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mode"] == mode
        assert body["collection"] == "default"
        top = body["hits"][0]
        assert top["source"] == source, (query, mode, top)
        assert top["text"] and top["document_id"]
        assert body["timings"]["store_ms"] >= 0


def test_search_returns_pages_for_pdf(client: TestClient) -> None:
    body = client.post("/v1/search", json={"query": "lighthouse keepers", "k": 5}).json()
    pdf_hits = [h for h in body["hits"] if h["source"] == "sample.pdf"]
    assert pdf_hits and all(h["page"] in (1, 2) for h in pdf_hits)


def test_filters_restrict_results(client: TestClient) -> None:
    everything = client.post("/v1/search", json={"query": "volcano", "k": 10}).json()["hits"]
    volcano_doc = everything[0]["document_id"]
    other = next(h["document_id"] for h in everything if h["document_id"] != volcano_doc)
    body = client.post("/v1/search", json={"query": "volcano", "k": 10, "filters": {"document_ids": [other]}}).json()
    assert body["hits"] and {h["document_id"] for h in body["hits"]} == {other}
    tagged = client.post("/v1/search", json={"query": "volcano", "filters": {"tags": ["nope"]}}).json()
    assert tagged["hits"] == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"query": ""}, "query"),
        ({"query": "x", "k": 0}, "k"),
        ({"query": "x", "k": 1000}, "k"),
        ({"query": "x", "mode": "magic"}, "mode"),
        ({"query": "x", "collection": "../etc"}, "collection"),
        ({"query": "x", "unknown": 1}, "unknown"),
        ({"query": "   "}, "empty"),
    ],
)
def test_bad_requests_get_422_with_a_reason(client: TestClient, body: dict[str, object], fragment: str) -> None:
    response = client.post("/v1/search", json=body)
    assert response.status_code == 422
    assert fragment in response.text
    assert client.get("/healthz").status_code == 200


def test_unknown_collection_is_404_and_data_survives(client: TestClient) -> None:
    response = client.post("/v1/search", json={"query": "x", "collection": "missing"})
    assert response.status_code == 404
    assert "missing" in response.json()["error"]["message"]
    assert client.post("/v1/search", json={"query": "volcano"}).json()["hits"]


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/search" in spec["paths"]
    assert "/healthz" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_concurrent_searches_get_the_serial_results(client: TestClient, components: Components) -> None:
    """Micro-batched query embedding (the default) through real HTTP handling: 24 searches at once return
    what each returns alone (ids and order; scores up to float rounding of a padded batch)."""
    queries = [topic for topic, _ in TOPICS] * 4 + ["bees", "a quarterly report on revenue", "x", "hive honey"] * 2
    serial = [client.post("/v1/search", json={"query": q, "k": 5}).json()["hits"] for q in queries]
    before = components.search.embedder.batching  # type: ignore[attr-defined]
    barrier = threading.Barrier(len(queries))

    def search(query: str) -> list[dict[str, object]]:
        barrier.wait(30)
        response = client.post("/v1/search", json={"query": query, "k": 5})
        assert response.status_code == 200
        hits: list[dict[str, object]] = response.json()["hits"]
        return hits

    with ThreadPoolExecutor(len(queries)) as pool:
        concurrent = list(pool.map(search, queries))
    after = components.search.embedder.batching  # type: ignore[attr-defined]
    assert after.calls - before.calls == len(queries)
    for alone, together in zip(serial, concurrent, strict=True):
        assert [h["id"] for h in together] == [h["id"] for h in alone]
        for a, b in zip(alone, together, strict=True):
            assert abs(float(a["score"]) - float(b["score"])) < 1e-4  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [b"[1e999]", b'{"query": "bees", "k": 1e999}', b'{"query": NaN}', b"-Infinity"])
def test_numbers_json_cannot_write_get_a_422_not_a_500(client: TestClient, raw: bytes) -> None:
    # Python's JSON reader turns 1e999 into inf and accepts NaN; the 422 quotes them back as text.
    response = client.post("/v1/search", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("method", ["coverage", "auto"])
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_search_with_coverage_diversity_over_http(client: TestClient, mode: str, method: str) -> None:
    body = {"query": "volcano lava honey bees", "k": 6, "mode": mode}
    plain = client.post("/v1/search", json={**body, "diversity": "none", "k": 20}).json()["hits"]
    response = client.post("/v1/search", json={**body, "diversity": method})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert len(hits) == min(6, len(plain))
    assert {h["id"] for h in hits} <= {h["id"] for h in plain}  # re-ordered candidates, nothing new
    bad = client.post("/v1/search", json={**body, "diversity": "coverge"})
    assert bad.status_code == 422 and "coverage" in bad.text and "auto" in bad.text
