"""Document upload, listing, versions, delete, re-ingest and job retry through a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.components import Components, build_components
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import (
    QUERIES,
    SAMPLES,
    FlakyStore,
    document_points,
    serve,
    top_source,
    upload,
    upload_and_wait,
    wait_for_job,
)
from tests.fixtures_docs import make_txt

pytestmark = pytest.mark.slow


@pytest.fixture
def client(components: Components) -> Iterator[httpx.Client]:
    with serve(components) as http:
        yield http


def test_each_format_is_indexed_listed_and_searchable(client: httpx.Client, components: Components) -> None:
    response = upload(client, list(SAMPLES.items()), tags="samples,five", metadata='{"team": "docs"}')
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [r["source"] for r in results] == list(SAMPLES)
    assert all(r["job_id"] and not r["duplicate"] and r["status"] == "queued" for r in results)
    assert len({r["job_id"] for r in results}) == len({r["document_id"] for r in results}) == len(SAMPLES)
    for result in results:
        job = wait_for_job(client, result["job_id"])
        assert job["state"] == "done", job
        assert job["document_id"] == result["document_id"] and job["source"] == result["source"]
        assert job["progress"]["chunks_done"] == job["progress"]["chunks_total"] > 0
    for name, query in QUERIES.items():
        assert top_source(client, query) == name, query

    listing = client.get("/v1/documents").json()
    assert listing["total"] == len(SAMPLES)
    by_source = {d["source"]: d for d in listing["documents"]}
    assert set(by_source) == set(SAMPLES)
    for doc in by_source.values():
        assert doc["status"] == "indexed" and doc["chunks"] > 0 and doc["error"] is None
        assert doc["tags"] == ["samples", "five"] and doc["metadata"] == {"team": "docs"}
        assert document_points(components, "default", doc["id"]) == doc["chunks"]
    assert {d["format"] for d in by_source.values()} == {"txt", "markdown", "html", "pdf", "docx"}
    assert components.search.store.count("default") == sum(d["chunks"] for d in by_source.values())

    # One more document elsewhere, so that every filter has something to leave out.
    [extra] = upload_and_wait(client, [("extra.txt", make_txt(["Tide pools hold anemones."]))], collection="shore")
    assert extra["source"] == "extra.txt"
    assert top_source(client, "sea anemones in tide pools", collection="shore") == "extra.txt"
    assert top_source(client, "sea anemones in tide pools") != "extra.txt"  # not in the default collection

    pages = [client.get("/v1/documents", params={"limit": 2, "offset": o}).json() for o in (0, 2, 4)]
    ids = [d["id"] for page in pages for d in page["documents"]]
    assert [len(page["documents"]) for page in pages] == [2, 2, 2]
    assert len(set(ids)) == 6 and all(page["total"] == 6 for page in pages)
    assert client.get("/v1/documents", params={"offset": 6}).json()["documents"] == []

    def total(**params: str) -> int:
        response = client.get("/v1/documents", params=params)
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    assert total(collection="default") == 5 and total(collection="shore") == 1
    assert total(tag="five") == 5 and total(tag="nope") == 0
    assert total(status="indexed") == 6 and total(status="failed") == 0
    assert total(collection="shore", tag="five") == 0
    assert client.get("/v1/documents", params={"status": "bogus"}).status_code == 422
    assert client.get("/v1/documents", params={"limit": 0}).status_code == 422

    one = client.get(f"/v1/documents/{extra['document_id']}").json()
    assert one["collection"] == "shore" and one["status"] == "indexed"
    assert one["job"]["id"] == extra["job_id"] and one["job"]["state"] == "done"
    assert one["job"]["collection"] == "shore"


def test_same_file_twice_is_one_document_and_a_new_version_replaces_it(
    client: httpx.Client, components: Components
) -> None:
    old = make_txt(["Honey bees build wax comb in the hive.", "Drones do not forage for nectar."])
    [first] = upload_and_wait(client, [("notes.txt", old)])
    doc_id = first["document_id"]
    points = components.search.store.count("default")
    assert points == document_points(components, "default", doc_id) > 0

    again = upload(client, [("notes.txt", old)])
    assert again.status_code == 202, again.text
    [second] = again.json()["results"]
    assert second["duplicate"] is True
    assert second["document_id"] == doc_id and second["job_id"] == first["job_id"]
    assert second["status"] == "indexed"
    assert client.get("/v1/documents").json()["total"] == 1
    assert components.search.store.count("default") == points

    new = make_txt(["Glaciers carve U-shaped valleys as they move.", "Moraines mark where the ice stopped."])
    [version] = upload_and_wait(client, [("notes.txt", new)])
    assert version["duplicate"] is False and version["document_id"] == doc_id
    assert version["job_id"] != first["job_id"]
    doc = client.get(f"/v1/documents/{doc_id}").json()
    assert doc["status"] == "indexed" and doc["job"]["id"] == version["job_id"]
    assert client.get("/v1/documents").json()["total"] == 1
    # No orphans: the store holds exactly the new version's chunks.
    assert components.search.store.count("default") == document_points(components, "default", doc_id) == doc["chunks"]
    hits = client.post("/v1/search", json={"query": "honey bees wax comb", "k": 10}).json()["hits"]
    assert hits and all("Glaciers" in h["text"] or "Moraines" in h["text"] for h in hits)
    assert not any("Honey" in h["text"] for h in hits)
    assert top_source(client, "glaciers carving valleys") == "notes.txt"


def test_delete_removes_points_and_entry_and_reingest_completes(client: httpx.Client, components: Components) -> None:
    keep, gone = upload_and_wait(client, [("sample.txt", SAMPLES["sample.txt"]), ("sample.md", SAMPLES["sample.md"])])
    kept_points = document_points(components, "default", keep["document_id"])
    assert document_points(components, "default", gone["document_id"]) > 0

    deleted = client.delete(f"/v1/documents/{gone['document_id']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["points_removed"] > 0
    assert document_points(components, "default", gone["document_id"]) == 0
    assert components.search.store.count("default") == kept_points
    assert client.get(f"/v1/documents/{gone['document_id']}").status_code == 404
    assert client.delete(f"/v1/documents/{gone['document_id']}").status_code == 404
    assert client.post(f"/v1/documents/{gone['document_id']}/reingest").status_code == 404
    assert top_source(client, QUERIES["sample.md"]) != "sample.md"
    assert client.get("/v1/documents").json()["total"] == 1
    # The job of a deleted document went with it: it cannot be brought back to index points nobody owns.
    assert client.get(f"/v1/jobs/{gone['job_id']}").status_code == 404
    assert client.post(f"/v1/jobs/{gone['job_id']}/retry").status_code == 404

    response = client.post(f"/v1/documents/{keep['document_id']}/reingest")
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["document_id"] == keep["document_id"] and job["id"] != keep["job_id"]
    assert wait_for_job(client, job["id"])["state"] == "done"
    doc = client.get(f"/v1/documents/{keep['document_id']}").json()
    assert doc["status"] == "indexed" and doc["job"]["id"] == job["id"]
    assert document_points(components, "default", keep["document_id"]) == kept_points == doc["chunks"]
    assert top_source(client, QUERIES["sample.txt"]) == "sample.txt"

    assert client.get("/v1/jobs/no-such-job").status_code == 404
    assert client.post("/v1/jobs/no-such-job/retry").status_code == 404


def test_failed_job_is_retried_and_completes(settings: Settings, embedder: SentenceTransformerEmbedder) -> None:
    from retrieval.stores.factory import create_store

    settings = settings.model_copy(update={"job_max_attempts": 1})
    store = FlakyStore(create_store(settings))
    components = build_components(settings, embedder=embedder, store=store)
    try:
        with serve(components) as client:
            [ok] = upload_and_wait(client, [("sample.txt", SAMPLES["sample.txt"])])
            points = components.search.store.count("default")
            store.broken = True
            response = upload(client, [("sample.pdf", SAMPLES["sample.pdf"])])
            assert response.status_code == 202, response.text
            [result] = response.json()["results"]
            job = wait_for_job(client, result["job_id"])
            assert job["state"] == "failed" and job["attempts"] == 1
            assert "store unavailable" in job["error"]
            doc = client.get(f"/v1/documents/{result['document_id']}").json()
            assert doc["status"] == "failed" and "store unavailable" in doc["error"]
            assert client.get("/v1/documents", params={"status": "failed"}).json()["total"] == 1
            assert components.search.store.count("default") == points
            assert top_source(client, QUERIES["sample.txt"]) == "sample.txt"  # the worker still serves
            not_failed = client.post(f"/v1/jobs/{ok['job_id']}/retry")
            assert not_failed.status_code == 422 and "only failed or cancelled" in not_failed.json()["error"]["message"]

            store.broken = False
            retried = client.post(f"/v1/jobs/{result['job_id']}/retry")
            assert retried.status_code == 202, retried.text
            assert retried.json()["state"] in ("queued", "running", "done")
            job = wait_for_job(client, result["job_id"])
            assert job["state"] == "done" and job["error"] is None and job["attempts"] == 1
            doc = client.get(f"/v1/documents/{result['document_id']}").json()
            assert doc["status"] == "indexed" and doc["error"] is None and doc["chunks"] > 0
            assert top_source(client, QUERIES["sample.pdf"]) == "sample.pdf"
    finally:
        components.close()
