"""Deletion leaves no cached teacher output behind, and search never returns a document being deleted
(hardening issue, finding 11), against a live server.

Cached generations are recorded with every document that used them: deleting a document removes the
entries no other live document of the tenant uses, and keeps those another one does (the same chunk text).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.components import Components, build_components
from kernel.settings import Settings
from knowledge.cache import DB_FILE
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import bearer, serve, upload_and_wait
from tests.conftest import make_components
from tests.fixtures_docs import make_txt
from tests.security.test_tenant_cache import PASSAGE, ScriptedTeacher

pytestmark = pytest.mark.slow

KEY_A = "key-alpha-0123456789"
KEY_B = "key-beta-9876543210"
BEES = make_txt([PASSAGE])


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", api_keys={KEY_A: "alpha", KEY_B: "beta"}, **extra)


def _generations(components: Components) -> int:
    with sqlite3.connect(components.settings.data_dir / DB_FILE) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])


@pytest.fixture
def synthesizing(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Components]:
    settings = _settings(tmp_path, synth={"enabled": True, "generate": "all"})
    built = build_components(settings, embedder=embedder, teacher=ScriptedTeacher())
    yield built
    built.close()


def _cached_chunks(client: httpx.Client, name: str, collection: str) -> tuple[str, int]:
    [result] = upload_and_wait(client, [(name, BEES)], collection=collection)
    report = client.get(f"/v1/documents/{result['document_id']}/synthetic")
    assert report.status_code == 200, report.text
    return str(result["document_id"]), int(report.json()["counts"]["chunks_cached"])


def test_delete_removes_the_documents_cache_entries_and_keeps_those_another_uses(synthesizing: Components) -> None:
    with serve(synthesizing) as http, httpx.Client(base_url=http.base_url, headers=bearer(KEY_A), timeout=60) as a:
        first, cached = _cached_chunks(a, "bees.txt", "default")
        assert cached == 0
        second, cached = _cached_chunks(a, "bees-copy.txt", "again")  # the same chunk text, another document
        assert cached == 1
        assert _generations(synthesizing) > 0

        assert a.delete(f"/v1/documents/{first}").status_code == 200
        # The shared chunk's entry stays for the live document: a third copy still hits it.
        third, cached = _cached_chunks(a, "bees-third.txt", "third")
        assert cached == 1

        for doc_id in (second, third):
            assert a.delete(f"/v1/documents/{doc_id}").status_code == 200
        # No document of the tenant is left: neither is any teacher output generated for one.
        assert _generations(synthesizing) == 0


@pytest.fixture
def components(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Components]:
    built = make_components(_settings(tmp_path), embedder)
    yield built
    built.close()


def test_search_drops_the_points_of_a_document_being_deleted(components: Components) -> None:
    glaciers = make_txt(["Glaciers carve U-shaped valleys; moraines mark where the ice stopped."])
    with serve(components) as http, httpx.Client(base_url=http.base_url, headers=bearer(KEY_A), timeout=60) as a:
        [gone] = upload_and_wait(a, [("bees.txt", BEES)])
        [kept] = upload_and_wait(a, [("glaciers.txt", glaciers)])
        query = {"query": "honey bees hive temperature", "k": 10}
        before = {h["document_id"] for h in a.post("/v1/search", json=query).json()["hits"]}
        assert before == {gone["document_id"], kept["document_id"]}

        # The tombstone alone, as a deletion does first: its points are still in the store.
        ingest = components.ingest
        with ingest.db.transaction() as conn:
            ingest.catalog.mark_deleting(conn, "alpha", gone["document_id"])

        response = a.post("/v1/search", json=query)
        assert response.status_code == 200, response.text
        assert [h["document_id"] for h in response.json()["hits"]] == [kept["document_id"]]
