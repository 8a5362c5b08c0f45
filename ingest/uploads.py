"""Document lifecycle for the API: validate and accept uploads, re-ingest, delete (tenant-scoped)."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ConfigDict

from ingest.blobs import BlobStore
from ingest.catalog import Catalog
from ingest.deletion import DocumentDeleter
from ingest.jobs import JobQueue, JobRecord, JobSpec
from ingest.parse import ParseLimits, parse_document
from ingest.parse.isolated import parse_isolated
from kernel.errors import ConflictError, EmptyDocumentError, InvalidRequestError, NotFoundError
from kernel.ids import document_id
from kernel.models import Document
from kernel.ports import PointStore
from kernel.settings import Settings
from kernel.sqlite import Database
from kernel.tenancy import resolve
from knowledge.cache import GenerationCache
from knowledge.reports import ReportStore, SyntheticReport

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


class UploadResult(BaseModel):
    """What happened to one uploaded file."""

    model_config = ConfigDict(extra="forbid")

    source: str
    document_id: str
    job_id: str | None
    duplicate: bool
    status: str


def clean_filename(name: str | None) -> str:
    """The base name of an uploaded file, without path parts or control characters."""
    base = PurePath((name or "").replace("\\", "/")).name
    base = _UNSAFE.sub("_", base).strip()[:200]
    if not base or base in {".", ".."}:
        raise InvalidRequestError("every uploaded file needs a file name (e.g. report.pdf)")
    return base


def check_limits(doc: Document, *, max_page_chars: int, max_document_chars: int) -> None:
    """Refuse documents whose text is too long overall or on one page/section."""
    if len(doc.text) > max_document_chars:
        raise InvalidRequestError(
            f"{doc.source}: {len(doc.text):,} characters of text; the limit is {max_document_chars:,}. "
            "Split the document into smaller files."
        )
    for section in doc.sections:
        size = section.end - section.start
        if size > max_page_chars:
            where = f"page {section.page}" if section.page else "one section"
            raise InvalidRequestError(
                f"{doc.source}: {where} has {size:,} characters; the limit is {max_page_chars:,} per page. "
                "Check that the file is a real document (not a data dump) or split it."
            )


def parse_limits(settings: Settings) -> ParseLimits:
    """What one file may produce when parsed, from the service's settings (upload and worker alike)."""
    return ParseLimits(
        max_chars=settings.max_document_chars,
        max_page_chars=settings.max_page_chars,
        max_seconds=settings.max_parse_seconds,
    )


class DocumentService:
    """Accepts uploads into the queue; every call is scoped to one tenant."""

    def __init__(
        self,
        *,
        db: Database,
        catalog: Catalog,
        queue: JobQueue,
        blobs: BlobStore,
        store: PointStore,
        settings: Settings,
        wake: threading.Event | None = None,
        reports: ReportStore | None = None,
        generations: GenerationCache | None = None,
        deleter: DocumentDeleter | None = None,
    ) -> None:
        self._reports = reports
        self._deleter = deleter or DocumentDeleter(
            db=db, catalog=catalog, queue=queue, blobs=blobs, store=store, reports=reports, generations=generations
        )
        self._db = db
        self._catalog = catalog
        self._queue = queue
        self._blobs = blobs
        self._store = store
        self._settings = settings
        self._wake = wake

    @property
    def deleter(self) -> DocumentDeleter:
        """What deletes documents (workers use it to finish deletions left half done)."""
        return self._deleter

    def validate(self, data: bytes, filename: str | None) -> Document:
        """Parse one file and check it against the limits; raises the InputError a user should see."""
        source = clean_filename(filename)
        if not data:
            raise EmptyDocumentError(f"{source} is empty (0 bytes)")
        # 415 unknown type, 422 corrupt/encrypted/empty/too much text or parse time
        parse = parse_isolated if self._settings.parse_isolated else parse_document
        doc = parse(data, source, parse_limits(self._settings))
        check_limits(
            doc, max_page_chars=self._settings.max_page_chars, max_document_chars=self._settings.max_document_chars
        )
        return doc

    def upload_many(
        self,
        *,
        tenant: str,
        collection: str,
        files: list[tuple[str | None, bytes]],
        tags: list[str],
        metadata: dict[str, Any],
    ) -> list[UploadResult]:
        """Validate every file first (a bad one rejects the batch, storing nothing), then queue each."""
        checked = [(self.validate(data, filename), data) for filename, data in files]
        # The whole batch against the quota first, so a batch is queued whole or not at all
        # (enqueue checks again, atomically, for uploads racing this one).
        new = [data for _doc, data in checked if not self._is_duplicate(tenant, collection, data)]
        self._queue.check_quota(self._db.read(), tenant, jobs=len(new), size=sum(len(data) for data in new))
        return [
            self._accept(tenant=tenant, collection=collection, doc=doc, data=data, tags=tags, metadata=metadata)
            for doc, data in checked
        ]

    def upload(
        self,
        *,
        tenant: str,
        collection: str,
        data: bytes,
        filename: str | None,
        tags: list[str],
        metadata: dict[str, Any],
    ) -> UploadResult:
        """Validate one file and queue it; identical content already in the collection is not stored twice."""
        [result] = self.upload_many(
            tenant=tenant, collection=collection, files=[(filename, data)], tags=tags, metadata=metadata
        )
        return result

    def _is_duplicate(self, tenant: str, collection: str, data: bytes) -> bool:
        sha = hashlib.sha256(data).hexdigest()
        return self._catalog.find_by_content(tenant, collection, sha) is not None

    def _accept(
        self, *, tenant: str, collection: str, doc: Document, data: bytes, tags: list[str], metadata: dict[str, Any]
    ) -> UploadResult:
        source = doc.source
        sha = hashlib.sha256(data).hexdigest()
        physical = resolve(tenant, collection)
        existing = self._catalog.find_by_content(tenant, collection, sha)
        if existing is not None:
            job = self._queue.latest_for_document(existing.id)
            return UploadResult(
                source=source,
                document_id=existing.id,
                job_id=job.id if job else None,
                duplicate=True,
                status=existing.status,
            )
        doc_id = document_id(physical, source)
        with self._db.transaction() as conn:
            if self._catalog.is_deleting(conn, doc_id):
                raise ConflictError(f"{source}: this document is being deleted; upload it again in a few seconds")
            # Stored inside the transaction: a deletion decides whether these bytes are still used under it.
            self._blobs.put(data, tenant=tenant)
            self._blobs.put_parsed(sha, doc, tenant=tenant)  # the worker takes it instead of parsing again
            self._catalog.upsert(
                conn,
                document_id=doc_id,
                tenant=tenant,
                collection=collection,
                source=source,
                content_sha256=sha,
                size=len(data),
                fmt=doc.format,
                tags=tags,
                metadata=metadata,
            )
            spec = JobSpec(
                document_id=doc_id,
                tenant=tenant,
                collection=physical,
                blob_sha256=sha,
                source=source,
                tags=tags,
                metadata=metadata,
            )
            job_id = self._queue.enqueue(conn, spec, size=len(data))
        self._notify()
        return UploadResult(source=source, document_id=doc_id, job_id=job_id, duplicate=False, status="queued")

    def reingest(self, tenant: str, doc_id: str) -> str:
        """Queue a document again from its stored bytes; returns the job id."""
        record = self._catalog.get(tenant, doc_id)
        with self._db.transaction() as conn:
            if self._catalog.is_deleting(conn, doc_id):
                raise NotFoundError(f"document {doc_id} not found")
            self._catalog.set_status(conn, doc_id, "queued")
            spec = JobSpec(
                document_id=doc_id,
                tenant=tenant,
                collection=resolve(tenant, record.collection),
                blob_sha256=record.content_sha256,
                source=record.source,
                tags=record.tags,
                metadata=record.metadata,
            )
            job_id = self._queue.enqueue(conn, spec, size=record.size)
        self._notify()
        return job_id

    def retry(self, tenant: str, job_id: str) -> JobRecord:
        """Queue a failed or cancelled job again, if its document still holds the content the job indexes.

        Without this check a job of a deleted document would write points no catalog entry owns, and
        a job superseded by a newer upload would put the old version back over the new one.
        """
        job = self._queue.get(tenant, job_id)
        try:
            record = self._catalog.get(tenant, job.document_id)
        except NotFoundError:
            raise InvalidRequestError(
                f"job {job_id}: document {job.document_id} was deleted; upload the file again"
            ) from None
        if record.content_sha256 != job.blob_sha256:
            raise InvalidRequestError(
                f"job {job_id} indexes an older version of {record.source}; a newer upload replaced it"
            )
        retried = self._queue.retry(tenant, job_id)
        with self._db.transaction() as conn:
            self._catalog.set_status(conn, job.document_id, "queued")
        self._notify()
        return retried

    def delete(self, tenant: str, doc_id: str) -> int:
        """Delete the document and everything it owns (:mod:`ingest.deletion`); returns chunk points removed."""
        return self._deleter.delete(tenant, doc_id)

    def synthetic(self, tenant: str, doc_id: str) -> SyntheticReport | None:
        """The synthesis report of a document of this tenant (404 if the document is unknown)."""
        record = self._catalog.get(tenant, doc_id)
        if self._reports is None:
            return None
        return self._reports.get(resolve(tenant, record.collection), doc_id)

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()
