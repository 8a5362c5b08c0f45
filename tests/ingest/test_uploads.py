"""DocumentService and the ingest worker on real parts: duplicates, versions, limits, delete, re-ingest, retry."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from app.components import Components
from ingest.bm25_stats import Bm25Stats
from ingest.pipeline import Ingestor
from ingest.uploads import UploadResult, clean_filename
from ingest.worker import Worker
from kernel.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    InputError,
    InvalidRequestError,
    NotFoundError,
    UnsupportedFormatError,
)
from kernel.models import StoredPoint
from kernel.ports import Embedder, VectorStore
from kernel.settings import Settings
from tests.fixtures_docs import BEEKEEPING, make_encrypted_pdf, make_pdf, make_txt

pytestmark = pytest.mark.slow

V1 = make_txt(BEEKEEPING)
V2 = make_txt(["Glaciers carve U-shaped valleys as they move.", "Moraines mark where the ice stopped."])
WORDS = "lorem ipsum dolor sit amet consectetur "


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Small limits, and two attempts per job (so a retry is visible before a job fails)."""
    return Settings(data_dir=tmp_path / "data", max_page_chars=1000, max_document_chars=4000, job_max_attempts=2)


def upload(components: Components, data: bytes, filename: str = "bees.txt", **kwargs: Any) -> UploadResult:
    args: dict[str, Any] = {"tenant": "", "collection": "default", "tags": [], "metadata": {}, **kwargs}
    return components.ingest.documents.upload(data=data, filename=filename, **args)


def drain(components: Components, worker: Worker | None = None) -> None:
    """Run jobs until none is left, skipping retry backoff."""
    worker = worker or components.new_worker()
    for _ in range(20):
        with components.ingest.db.transaction() as conn:
            conn.execute("UPDATE jobs SET not_before=0 WHERE state='queued'")
        if not worker.run_once():
            return
    raise AssertionError("jobs kept coming")


def points_of(components: Components, doc_id: str, collection: str = "default") -> set[str]:
    return components.search.store.document_point_ids(collection, doc_id)


def blob_files(components: Components) -> list[Path]:
    return [p for p in (components.settings.data_dir / "blobs").rglob("*") if p.is_file()]


def test_upload_is_queued_then_indexed_by_a_worker(components: Components) -> None:
    result = upload(components, V1, tags=["bees"], metadata={"team": "hive"})
    assert result.source == "bees.txt" and not result.duplicate and result.status == "queued"
    assert result.job_id is not None
    record = components.ingest.catalog.get("", result.document_id)
    assert record.status == "queued" and record.format == "txt" and record.size == len(V1)
    assert record.content_sha256 == hashlib.sha256(V1).hexdigest()
    assert components.ingest.blobs.get(record.content_sha256) == V1
    assert components.ingest.jobs.get("", result.job_id).state == "queued"

    drain(components)
    job = components.ingest.jobs.get("", result.job_id)
    record = components.ingest.catalog.get("", result.document_id)
    assert job.state == "done" and record.status == "indexed" and record.chunks > 0
    assert len(points_of(components, result.document_id)) == record.chunks == components.search.store.count("default")
    hits = components.search.searcher.search("honey harvest", collection="default", k=1).hits
    assert hits[0].document_id == result.document_id
    assert hits[0].tags == ["bees"] and hits[0].metadata["team"] == "hive"


def test_identical_content_is_not_stored_twice(components: Components) -> None:
    first = upload(components, V1)
    queued_again = upload(components, V1)  # before indexing: the same queued job
    assert queued_again.duplicate and queued_again.status == "queued"
    assert (queued_again.document_id, queued_again.job_id) == (first.document_id, first.job_id)
    drain(components)
    points = components.search.store.count("default")
    blobs = blob_files(components)

    again = upload(components, V1)
    renamed = upload(components, V1, filename="copy-of-bees.txt")
    for duplicate in (again, renamed):
        assert duplicate.duplicate and duplicate.status == "indexed"
        assert (duplicate.document_id, duplicate.job_id) == (first.document_id, first.job_id)
    assert components.ingest.jobs.counts() == {"queued": 0, "running": 0, "done": 1, "failed": 0, "cancelled": 0}
    assert components.ingest.catalog.list("")[1] == 1
    assert components.search.store.count("default") == points and blob_files(components) == blobs

    # The same bytes elsewhere are another document: another collection, another tenant.
    elsewhere = upload(components, V1, collection="other")
    assert blob_files(components) == blobs  # within a tenant the stored original is shared
    for_tenant = upload(components, V1, tenant="beta")
    assert not elsewhere.duplicate and not for_tenant.duplicate
    assert len({first.document_id, elsewhere.document_id, for_tenant.document_id}) == 3
    # Another tenant keeps its own copy: what one tenant stored must not change what another's upload does.
    assert len(blob_files(components)) == len(blobs) + 1


def test_a_new_version_replaces_the_old_one_without_orphans(components: Components) -> None:
    first = upload(components, V1)
    drain(components)
    old_points = points_of(components, first.document_id)
    assert old_points

    second = upload(components, V2)
    assert not second.duplicate and second.document_id == first.document_id and second.job_id != first.job_id
    assert components.ingest.catalog.get("", first.document_id).content_sha256 == hashlib.sha256(V2).hexdigest()
    drain(components)
    record = components.ingest.catalog.get("", first.document_id)
    new_points = points_of(components, first.document_id)
    assert record.status == "indexed" and len(new_points) == record.chunks
    assert not new_points & old_points and components.search.store.count("default") == len(new_points)
    hits = components.search.searcher.search("honey bees", collection="default", k=5).hits
    assert hits and all("Honey" not in h.text for h in hits)


def test_an_upload_before_indexing_supersedes_the_queued_version(components: Components) -> None:
    first = upload(components, V1)
    second = upload(components, V2)
    assert first.job_id is not None and second.job_id is not None
    assert components.ingest.jobs.get("", first.job_id).state == "cancelled"
    drain(components)
    assert components.ingest.jobs.get("", second.job_id).state == "done"
    assert components.ingest.jobs.counts()["done"] == 1
    texts = [h.text for h in components.search.searcher.search("glaciers", collection="default", k=5).hits]
    assert texts and not any("Honey" in t for t in texts)


@pytest.mark.parametrize(
    ("filename", "data", "error", "words"),
    [
        ("empty.txt", b"", EmptyDocumentError, ("empty.txt", "empty")),
        ("blank.txt", b"  \n\n ", EmptyDocumentError, ("blank.txt", "empty")),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, UnsupportedFormatError, ("photo.png",)),
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, CorruptDocumentError, ("photo.txt",)),
        ("junk.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 4, CorruptDocumentError, ("junk.pdf",)),
        ("locked.pdf", make_encrypted_pdf(["Top secret."]), CorruptDocumentError, ("locked.pdf", "password")),
        ("page.pdf", make_pdf([WORDS * 40]), InvalidRequestError, ("page.pdf", "page 1", "1,000")),
        ("long.txt", make_txt([WORDS * 20] * 6), InvalidRequestError, ("long.txt", "4,000")),
        ("", V1, InvalidRequestError, ("file name",)),
        ("../..", V1, InvalidRequestError, ("file name",)),
    ],
)
def test_refused_files_store_nothing(
    components: Components, filename: str, data: bytes, error: type[InputError], words: tuple[str, ...]
) -> None:
    with pytest.raises(error) as caught:
        upload(components, data, filename=filename)
    for word in words:
        assert word in caught.value.message
    assert components.ingest.catalog.list("")[1] == 0
    assert set(components.ingest.jobs.counts().values()) == {0}
    assert blob_files(components) == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/x.pdf", "x.pdf"),
        ("C:\\Users\\me\\notes.txt", "notes.txt"),
        ("/abs/path/a.md", "a.md"),
        ("tab\there.txt", "tab_here.txt"),
        ("nul\x00.txt", "nul_.txt"),
        ("  spaced.txt  ", "spaced.txt"),
        ("ünïcødé 文件.md", "ünïcødé 文件.md"),
        ("x" * 300, "x" * 200),
    ],
)
def test_clean_filename_keeps_only_a_safe_base_name(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


@pytest.mark.parametrize("raw", [None, "", "   ", ".", "..", "a/..", "\\"])
def test_clean_filename_refuses_names_without_a_base(raw: str | None) -> None:
    with pytest.raises(InvalidRequestError, match="file name"):
        clean_filename(raw)


def test_delete_removes_points_entry_and_queued_jobs(components: Components) -> None:
    indexed = upload(components, V1)
    drain(components)
    chunks = components.ingest.catalog.get("", indexed.document_id).chunks
    with pytest.raises(NotFoundError):
        components.ingest.documents.delete("beta", indexed.document_id)  # another tenant's id is just unknown
    assert len(points_of(components, indexed.document_id)) == chunks

    assert components.ingest.documents.delete("", indexed.document_id) == chunks
    assert points_of(components, indexed.document_id) == set()
    with pytest.raises(NotFoundError):
        components.ingest.catalog.get("", indexed.document_id)
    with pytest.raises(NotFoundError):
        components.ingest.documents.delete("", indexed.document_id)

    queued = upload(components, V2, filename="glaciers.txt")
    assert components.ingest.documents.delete("", queued.document_id) == 0
    assert queued.job_id is not None
    with pytest.raises(NotFoundError):  # a deleted document's job rows go with it
        components.ingest.jobs.get("", queued.job_id)
    assert components.new_worker().run_once() is False
    assert components.search.store.count("default") == 0


class DeleteBeforeUpsert:
    """The real store, but the document is deleted just before the worker's first write (a race)."""

    def __init__(self, inner: VectorStore, delete: Any) -> None:
        self.inner = inner
        self.delete_now = delete

    def upsert(self, collection: str, points: Sequence[StoredPoint]) -> None:
        if self.delete_now is not None:
            self.delete_now, delete = None, self.delete_now
            delete()
        self.inner.upsert(collection, points)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _worker(components: Components, *, store: Any = None, embedder: Any = None) -> Worker:
    settings = components.settings
    ingestor = Ingestor(
        store=store or components.search.store,
        collections=components.search.store,
        bm25=Bm25Stats(components.ingest.db),
        embedder=embedder or components.search.embedder,
        sparse=components.search.sparse,
        chunk_max_tokens=settings.chunk_max_tokens,
        chunk_overlap_tokens=settings.chunk_overlap_tokens,
    )
    return Worker(
        db=components.ingest.db,
        queue=components.ingest.jobs,
        catalog=components.ingest.catalog,
        blobs=components.ingest.blobs,
        ingestor=ingestor,
        store=components.search.store,
        collections=components.search.store,
        deletions=components.ingest.documents.deleter,
    )


def test_a_document_deleted_while_indexed_leaves_no_points(components: Components) -> None:
    result = upload(components, V1)
    racing = DeleteBeforeUpsert(
        components.search.store, lambda: components.ingest.documents.delete("", result.document_id)
    )
    assert _worker(components, store=racing).run_once() is True
    assert racing.delete_now is None  # the race happened
    assert result.job_id is not None
    with pytest.raises(NotFoundError):  # the worker finished the deletion once it stopped writing
        components.ingest.jobs.get("", result.job_id)
    assert points_of(components, result.document_id) == set() and components.search.store.count("default") == 0
    with pytest.raises(NotFoundError):
        components.ingest.catalog.get("", result.document_id)


def test_reingest_runs_a_new_job_over_the_stored_original(components: Components) -> None:
    result = upload(components, V1)
    drain(components)
    points = points_of(components, result.document_id)
    job_id = components.ingest.documents.reingest("", result.document_id)
    assert job_id != result.job_id
    assert components.ingest.catalog.get("", result.document_id).status == "queued"
    with pytest.raises(NotFoundError):
        components.ingest.documents.reingest("beta", result.document_id)
    with pytest.raises(NotFoundError):
        components.ingest.documents.reingest("", "no-such-document")
    drain(components)
    assert components.ingest.jobs.get("", job_id).state == "done"
    assert components.ingest.catalog.get("", result.document_id).status == "indexed"
    assert points_of(components, result.document_id) == points  # unchanged content: the same points


def test_a_failed_job_is_retried_and_completes(components: Components) -> None:
    result = upload(components, V1)
    assert result.job_id is not None
    sha = hashlib.sha256(V1).hexdigest()
    blob = components.settings.data_dir / "blobs" / sha[:2] / sha
    blob.unlink()  # the stored original is gone: a backend problem, retried, then failed
    drain(components)
    job = components.ingest.jobs.get("", result.job_id)
    assert job.state == "failed" and job.attempts == 2 and "missing" in (job.error or "")
    record = components.ingest.catalog.get("", result.document_id)
    assert record.status == "failed" and record.error == job.error

    components.ingest.blobs.put(V1)
    retried = components.ingest.documents.retry("", result.job_id)
    assert retried.state == "queued" and retried.attempts == 0 and retried.error is None
    assert components.ingest.catalog.get("", result.document_id).status == "queued"
    drain(components)
    assert components.ingest.jobs.get("", result.job_id).state == "done"
    record = components.ingest.catalog.get("", result.document_id)
    assert record.status == "indexed" and record.error is None
    assert len(points_of(components, result.document_id)) == record.chunks > 0


def test_retry_refuses_jobs_of_deleted_or_replaced_documents(components: Components) -> None:
    old = upload(components, V1)
    new = upload(components, V2)  # supersedes old's queued job
    assert old.job_id is not None and new.job_id is not None
    with pytest.raises(InvalidRequestError, match="older version"):
        components.ingest.documents.retry("", old.job_id)
    drain(components)
    components.ingest.documents.delete("", new.document_id)
    with pytest.raises(NotFoundError):  # its jobs went with it
        components.ingest.documents.retry("", new.job_id)
    with pytest.raises(NotFoundError):
        components.ingest.documents.retry("", "no-such-job")
    assert components.new_worker().run_once() is False
    assert components.search.store.count("default") == 0


class ExplodingEmbedder:
    """The real embedder, except that embedding raises an error no adapter wrapped."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise RuntimeError("GPU fell off the bus")

    async def embed_async(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_unexpected_error_counts_as_an_attempt_and_the_worker_goes_on(components: Components) -> None:
    broken = upload(components, V1)
    assert broken.job_id is not None
    worker = _worker(components, embedder=ExplodingEmbedder(components.search.embedder))
    assert worker.run_once() is True
    job = components.ingest.jobs.get("", broken.job_id)
    assert job.state == "queued" and job.stage == "retrying" and job.lease_owner is None
    assert job.error == "internal error: RuntimeError: GPU fell off the bus"
    drain(components, worker)
    job = components.ingest.jobs.get("", broken.job_id)
    assert job.state == "failed" and job.attempts == 2
    assert components.ingest.catalog.get("", broken.document_id).status == "failed"

    fine = upload(components, V2, filename="glaciers.txt")
    drain(components)
    assert fine.job_id is not None and components.ingest.jobs.get("", fine.job_id).state == "done"


def test_idle_worker_optimizes_collections_that_grew(components: Components) -> None:
    calls: list[str] = []
    original = components.search.store.optimize

    def recording(collection: str) -> None:
        calls.append(collection)
        original(collection)

    components.search.store.optimize = recording  # type: ignore[method-assign]
    components.ingest.documents.upload(
        tenant="", collection="default", data=b"Tides follow the moon.", filename="t.txt", tags=[], metadata={}
    )
    worker = components.new_worker()
    assert worker.run_once()
    worker.optimize_idle(threshold=10**6)
    assert calls == []  # below the threshold: no index rebuild
    worker.optimize_idle(threshold=1)
    assert calls == ["default"]
    worker.optimize_idle(threshold=1)
    assert calls == ["default"]  # nothing new since
    assert components.search.searcher.search("moon tides", collection="default").hits[0].source == "t.txt"
