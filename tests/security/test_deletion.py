"""Deletion removes everything a document owns, races no upload into orphans, and survives a crash at any step
(hardening issue, finding 11).

Real uvicorn on loopback with two tenants, the real embedder and embedded store; after each case the data dir
(SQLite, blob files, store) is inspected directly. The crash test runs the deletion in a subprocess that
``os._exit``s after each step in turn, then opens the same data dir again and lets a worker finish it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.components import Components, build_components
from ingest.deletion import STEPS
from kernel.models import StoredPoint
from kernel.settings import Settings
from kernel.tenancy import resolve, synthetic_collection
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.stores.factory import create_store
from tests.app.upload_support import bearer, serve, upload, upload_and_wait, wait_for_job
from tests.conftest import make_components
from tests.fixtures_docs import make_txt

pytestmark = pytest.mark.slow

KEY_A = "key-alpha-0123456789"
KEY_B = "key-beta-9876543210"
ROOT = Path(__file__).resolve().parents[2]
BEES = make_txt(["Beekeepers harvest honey in late summer once the frames are capped with wax."])
GLACIERS = make_txt(["Glaciers carve U-shaped valleys; moraines mark where the ice stopped."])
SETTLE_S = 60.0


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", api_keys={KEY_A: "alpha", KEY_B: "beta"})


def _rows(settings: Settings, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(settings.data_dir / "synthrag.db") as conn:
        return conn.execute(sql, args).fetchall()


def _blob(settings: Settings, sha: str, tenant: str) -> Path:
    return settings.data_dir / "blobs" / f"t-{tenant}" / sha[:2] / sha


def _points(components: Components, tenant: str, doc_id: str) -> int:
    physical = resolve(tenant, "default")
    store = components.search.store
    return len(store.document_point_ids(physical, doc_id)) + len(
        store.document_point_ids(synthetic_collection(physical), doc_id)
    )


def _owned(components: Components, tenant: str, doc_id: str, sha: str) -> dict[str, int]:
    """What is left of a document anywhere in the data dir: rows, blob file, points."""
    settings = components.settings
    return {
        "catalog rows": len(_rows(settings, "SELECT 1 FROM documents WHERE id=?", doc_id)),
        "job rows": len(_rows(settings, "SELECT 1 FROM jobs WHERE document_id=?", doc_id)),
        "blob files": int(_blob(settings, sha, tenant).exists()),
        "points": _points(components, tenant, doc_id),
    }


NOTHING = {"catalog rows": 0, "job rows": 0, "blob files": 0, "points": 0}


@pytest.fixture
def components(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Components]:
    built = make_components(_settings(tmp_path), embedder)
    yield built
    built.close()


def test_delete_removes_the_original_job_rows_and_points_and_nothing_of_others(components: Components) -> None:
    with serve(components) as http:
        a = httpx.Client(base_url=http.base_url, headers=bearer(KEY_A), timeout=60)
        b = httpx.Client(base_url=http.base_url, headers=bearer(KEY_B), timeout=60)
        [mine] = upload_and_wait(a, [("bees.txt", BEES)])
        [version] = upload_and_wait(a, [("bees.txt", BEES + b"\nSmoke calms the bees.")])  # a second version
        [theirs] = upload_and_wait(b, [("bees.txt", BEES)])  # the same bytes, another tenant
        doc_id = mine["document_id"]
        assert version["document_id"] == doc_id
        sha_v2 = a.get(f"/v1/documents/{doc_id}").json()["content_sha256"]
        sha_v1 = b.get(f"/v1/documents/{theirs['document_id']}").json()["content_sha256"]
        assert _owned(components, "alpha", doc_id, sha_v2)["job rows"] == 2

        deleted = a.delete(f"/v1/documents/{doc_id}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["points_removed"] > 0

        assert _owned(components, "alpha", doc_id, sha_v2) == NOTHING
        assert a.get(f"/v1/jobs/{mine['job_id']}").status_code == 404
        assert a.get(f"/v1/documents/{doc_id}").status_code == 404
        assert a.post("/v1/search", json={"query": "honey harvest"}).json()["hits"] == []
        # The other tenant's copy of the v1 bytes keeps its original, rows and points.
        assert not _blob(components.settings, sha_v1, "alpha").exists()
        assert _blob(components.settings, sha_v1, "beta").exists()
        assert _points(components, "beta", theirs["document_id"]) > 0
        hits = b.post("/v1/search", json={"query": "honey harvest"}).json()["hits"]
        assert [h["document_id"] for h in hits] == [theirs["document_id"]]
        a.close()
        b.close()


class GatedDeletes:
    """The real store; the first ``delete_document`` waits for the test to let it go (a deletion held mid-way)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.go = threading.Event()
        self._gated = True

    def delete_document(self, collection: str, document_id: str) -> int:
        if self._gated:
            self._gated = False
            self.entered.set()
            assert self.go.wait(SETTLE_S)
        removed: int = self.inner.delete_document(collection, document_id)
        return removed

    def upsert(self, collection: str, points: Sequence[StoredPoint]) -> None:
        self.inner.upsert(collection, points)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_upload_racing_a_delete_leaves_no_searchable_point_of_a_missing_document(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = _settings(tmp_path)
    gated = GatedDeletes(create_store(settings))
    components = build_components(settings, embedder=embedder, store=gated)
    try:
        with serve(components, headers=bearer(KEY_A)) as a:
            [first] = upload_and_wait(a, [("notes.txt", BEES)])
            doc_id = first["document_id"]
            deleting: dict[str, httpx.Response] = {}
            thread = threading.Thread(target=lambda: deleting.update(r=a.delete(f"/v1/documents/{doc_id}")))
            thread.start()
            assert gated.entered.wait(SETTLE_S)
            # A new version of the same document arrives while the deletion is half done.
            racing = upload(a, [("notes.txt", GLACIERS)])
            gated.go.set()
            thread.join(SETTLE_S)
            assert deleting["r"].status_code == 200, deleting["r"].text
            assert racing.status_code in (202, 409), racing.text
            if racing.status_code == 409:
                assert "being deleted" in racing.json()["error"]["message"]
            else:
                wait_for_job(a, racing.json()["results"][0]["job_id"])
            deadline = time.monotonic() + SETTLE_S
            while _rows(settings, "SELECT 1 FROM jobs WHERE state IN ('queued', 'running')"):
                assert time.monotonic() < deadline, "jobs still pending"
                time.sleep(0.1)

            # Every searchable point belongs to a document that answers; a document that is gone has no points.
            hits = a.post("/v1/search", json={"query": "glaciers valleys honey", "k": 10}).json()["hits"]
            for hit in hits:
                assert a.get(f"/v1/documents/{hit['document_id']}").status_code == 200, hit
            if a.get(f"/v1/documents/{doc_id}").status_code == 404:
                assert _points(components, "alpha", doc_id) == 0
                assert not _rows(settings, "SELECT 1 FROM documents WHERE id=?", doc_id)
    finally:
        components.close()


CRASH = """
import os, sys
from pathlib import Path
from ingest.blobs import BlobStore
from ingest.catalog import Catalog
from ingest.deletion import DocumentDeleter
from ingest.jobs import JobQueue
from kernel.settings import Settings
from kernel.sqlite import Database
from knowledge.cache import open_synth_db
from knowledge.reports import ReportStore
from retrieval.stores.factory import create_store

data, doc_id, crash_after = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
settings = Settings(data_dir=data)
db = Database(data / "synthrag.db")
store = create_store(settings)

def step(name):
    if name == crash_after:
        os._exit(17)  # no clean-up, no flush: as if the process were killed here

deleter = DocumentDeleter(db=db, catalog=Catalog(db), queue=JobQueue(db, lease_s=30, max_attempts=3),
    blobs=BlobStore(data / "blobs"), store=store, reports=ReportStore(open_synth_db(data)), on_step=step)
deleter.delete("alpha", doc_id)
os._exit(0)
"""


@pytest.mark.parametrize("crash_after", ["tombstone", *STEPS[:-1]])
def test_a_deletion_killed_after_any_step_converges_on_restart(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, crash_after: str
) -> None:
    settings = _settings(tmp_path)
    components = make_components(settings, embedder)
    try:
        documents = components.ingest.documents
        gone = documents.upload(tenant="alpha", collection="default", data=BEES, filename="bees.txt", tags=[],
                                metadata={})  # fmt: skip
        kept = documents.upload(tenant="alpha", collection="default", data=GLACIERS, filename="ice.txt", tags=[],
                                metadata={})  # fmt: skip
        worker = components.new_worker()
        while worker.run_once():
            pass
        sha = components.ingest.catalog.get("alpha", gone.document_id).content_sha256
        assert _owned(components, "alpha", gone.document_id, sha)["points"] > 0
    finally:
        components.close()

    script = [sys.executable, "-c", CRASH, str(settings.data_dir), gone.document_id, crash_after]
    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(script, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 17, done.stderr

    restarted = make_components(settings, embedder)
    try:
        # At once after the restart the document is gone for readers, whatever step the crash cut.
        with pytest.raises(Exception, match="not found"):
            restarted.ingest.catalog.get("alpha", gone.document_id)
        assert restarted.ingest.catalog.list("alpha")[1] == 1
        restarted.new_worker().finish_deletions(every_s=0)
        assert _owned(restarted, "alpha", gone.document_id, sha) == NOTHING
        assert _points(restarted, "alpha", kept.document_id) > 0
        assert restarted.ingest.catalog.get("alpha", kept.document_id).status == "indexed"
    finally:
        restarted.close()
