"""Deleting a document and everything it owns, in an order a crash at any step cannot turn into orphans.

1. Tombstone: in one transaction the catalog row becomes ``deleting`` and the document's jobs are
   cancelled. From then on the document is gone for readers (404, not listed, not searchable), a
   worker indexing it loses its lease (it checks under the same transaction it commits with), and
   an upload of the same name is refused until the deletion finishes.
2. Synthesis reports and the cached teacher outputs no other document uses, points (chunks and
   synthetic items), stored originals no other document uses.
3. Only when no worker may still write points of it (no live lease): points once more, then the
   job rows and the catalog row, in one transaction.

Every step is idempotent and the tombstone is durable, so :meth:`DocumentDeleter.finish_pending`
(run by workers at start and when idle) completes a deletion cut short by a crash.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from ingest.blobs import BlobStore
from ingest.catalog import Catalog, DocumentRecord
from ingest.jobs import JobQueue
from kernel.ports import PointStore
from kernel.sqlite import Database
from kernel.tenancy import resolve, synthetic_collection
from knowledge.cache import GenerationCache
from knowledge.reports import ReportStore

log = logging.getLogger(__name__)

#: Steps of a deletion after the tombstone, in order (named for logs and crash tests).
STEPS: tuple[str, ...] = ("reports", "points", "blobs", "rows")
#: Called after each finished step with its name (tests stop the process there).
StepFn = Callable[[str], None]


class DocumentDeleter:
    """Deletes documents: tombstone first, then what they own, then the tombstone itself."""

    def __init__(
        self,
        *,
        db: Database,
        catalog: Catalog,
        queue: JobQueue,
        blobs: BlobStore,
        store: PointStore,
        reports: ReportStore | None = None,
        generations: GenerationCache | None = None,
        on_step: StepFn | None = None,
    ) -> None:
        self._db = db
        self._catalog = catalog
        self._queue = queue
        self._blobs = blobs
        self._store = store
        self._reports = reports
        self._generations = generations
        self._on_step = on_step or (lambda _step: None)

    def delete(self, tenant: str, document_id: str) -> int:
        """Delete one of the tenant's documents; returns the chunk points removed (NotFoundError if unknown)."""
        with self._db.transaction() as conn:
            record = self._catalog.mark_deleting(conn, tenant, document_id)
            self._queue.cancel_document(conn, document_id)
        self._on_step("tombstone")
        return self.purge(record)

    def purge(self, record: DocumentRecord) -> int:
        """Remove what a tombstoned document owns; the tombstone goes last, once no worker writes for it.

        Returns the chunk points removed by this call.
        """
        doc_id = record.id
        physical = resolve(record.tenant, record.collection)
        if self._reports is not None:
            self._reports.delete(physical, doc_id)
        self._forget_generations(doc_id)
        self._on_step("reports")
        removed = self._delete_points(physical, doc_id)
        self._on_step("points")
        self._delete_blobs(record)
        self._on_step("blobs")
        with self._db.transaction() as conn:
            if self._queue.writing(conn, doc_id):
                # A worker still holds a lease on a job of it: it may write points after ours were
                # deleted. It stops at its next heartbeat or commit; the rows wait for that.
                log.info("deletion of %s waits for a running job to stop", doc_id)
                return removed
        # Points and cached generations once more (a worker's last write may have landed meanwhile), then the rows.
        removed += self._delete_points(physical, doc_id)
        self._forget_generations(doc_id)
        with self._db.transaction() as conn:
            if self._queue.writing(conn, doc_id):
                return removed
            self._queue.delete_document(conn, doc_id)
            self._catalog.delete(conn, doc_id)
        self._on_step("rows")
        log.info("deleted document %s (%s)", doc_id, record.source)
        return removed

    def finish_pending(self) -> int:
        """Finish every deletion left half done (a crash, a worker that was still writing); returns how many."""
        finished = 0
        for record in self._catalog.tombstones():
            self.purge(record)
            finished += self._catalog.tombstone(record.id) is None
        return finished

    def _forget_generations(self, doc_id: str) -> None:
        # Cached teacher outputs another live document of the tenant still uses (the same chunk text)
        # stay: the cache records every document that used an entry.
        if self._generations is not None:
            self._generations.delete_owner(doc_id)

    def _delete_points(self, physical: str, doc_id: str) -> int:
        removed = self._store.delete_document(physical, doc_id)
        self._store.delete_document(synthetic_collection(physical), doc_id)
        return removed

    def _delete_blobs(self, record: DocumentRecord) -> None:
        # Originals are stored by content within a tenant, so another of the tenant's documents may
        # hold the same bytes: those stay. A copy in the shared store of old (before originals were
        # kept per tenant) stays while any document uses it. The check and the unlink share the write
        # transaction an upload takes to record its document, so an upload of the same bytes cannot
        # slip in between.
        tenant = record.tenant
        with self._db.transaction() as conn:
            shas = self._queue.blobs_of(conn, record.id) | {record.content_sha256}
            for sha in sorted(shas):
                if not self._in_use(conn, sha, besides=record.id, tenant=tenant):
                    self._blobs.delete(sha, tenant=tenant)
                if tenant and not self._in_use(conn, sha, besides=record.id, tenant=None):
                    self._blobs.delete(sha)

    def _in_use(self, conn: sqlite3.Connection, sha: str, *, besides: str, tenant: str | None) -> bool:
        """Whether a document other than ``besides`` (of ``tenant``; None: of anyone) uses these bytes."""
        return self._catalog.content_in_use(conn, sha, besides=besides, tenant=tenant) or self._queue.blob_in_use(
            conn, sha, besides=besides, tenant=tenant
        )
