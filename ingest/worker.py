"""Ingest worker: claims jobs from the queue, parses, chunks, embeds and stores, with leases."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from ingest.blobs import BlobStore
from ingest.catalog import Catalog
from ingest.deletion import DocumentDeleter
from ingest.jobs import JobQueue, JobRecord
from ingest.lease import LeaseKeeper
from ingest.parse import ParseLimits, parse_document
from ingest.parse.isolated import parse_isolated
from ingest.pipeline import IngestItem, Ingestor
from kernel.errors import InputError, SynthragError
from kernel.ports import CollectionAdmin, PointStore
from kernel.sqlite import Database
from kernel.tenancy import synthetic_collection

log = logging.getLogger(__name__)

#: Called once per finished job with (status, chunks): status is indexed, failed or retrying.
DoneFn = Callable[[str, int], None]
#: Chunks written to a collection before an idle worker rebuilds its indexes (qdrant-edge searches
#: unindexed segments by brute force: 13 ms instead of 1.4 ms at 100k chunks, see bench/RESULTS.md).
OPTIMIZE_AFTER_CHUNKS = 2000
#: Seconds between an idle worker's looks for deletions left half done (a crash, a job still writing).
DELETION_SWEEP_S = 5.0


class LeaseLostError(Exception):
    """The job was cancelled or taken over while this worker ran it."""


class Worker:
    """One worker loop; several may run in threads of one process or in separate processes."""

    def __init__(
        self,
        *,
        db: Database,
        queue: JobQueue,
        catalog: Catalog,
        blobs: BlobStore,
        ingestor: Ingestor,
        store: PointStore,
        collections: CollectionAdmin,
        on_done: DoneFn | None = None,
        poll_s: float = 0.5,
        deletions: DocumentDeleter | None = None,
        limits: ParseLimits | None = None,
        isolated: bool = False,
    ) -> None:
        """Args: deletions: finishes deletions left half done, at start and when idle (None: never)."""
        self._db = db
        self._queue = queue
        self._catalog = catalog
        self._blobs = blobs
        self._ingestor = ingestor
        self._store = store
        self._collections = collections
        self._on_done = on_done or (lambda _status, _chunks: None)
        self._poll_s = poll_s
        self._limits = limits
        self._isolated = isolated  # parse in a child process (see ingest.parse.isolated)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._unoptimized: dict[str, int] = {}
        self._deletions = deletions
        self._swept_at = float("-inf")

    def run(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Process jobs until ``stop`` is set; sleeps (or waits for ``wake``) when the queue is empty."""
        log.info("worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # a broken job must not kill the loop; it is retried after its lease
                log.exception("worker %s: unexpected error", self.worker_id)
                worked = False
            if not worked:
                self.finish_deletions()
                self.optimize_idle()
                if wake is not None:
                    wake.wait(self._poll_s)
                    wake.clear()
                else:
                    stop.wait(self._poll_s)
        log.info("worker %s stopped", self.worker_id)

    def finish_deletions(self, *, every_s: float = DELETION_SWEEP_S) -> None:
        """Complete deletions cut short (by a crash, or waiting for a job), at most once per ``every_s``."""
        if self._deletions is None or time.monotonic() - self._swept_at < every_s:
            return
        self._swept_at = time.monotonic()
        try:
            finished = self._deletions.finish_pending()
        except SynthragError as exc:  # the store is down, say: the tombstones stay, the next sweep retries
            log.warning("finishing deletions failed: %s", exc.message)
            return
        if finished:
            log.info("finished %d interrupted deletion(s)", finished)

    def optimize_idle(self, *, threshold: int = OPTIMIZE_AFTER_CHUNKS) -> None:
        """Build indexes of collections that received many chunks, now that the queue is empty."""
        for collection, chunks in list(self._unoptimized.items()):
            if chunks < threshold:
                continue
            try:
                self._collections.optimize(collection)
            except SynthragError as exc:
                log.warning("optimizing %s failed: %s", collection, exc.message)
                continue
            log.info("optimized %s after %d new chunks", collection, chunks)
            del self._unoptimized[collection]

    def run_once(self) -> bool:
        """Claim and process one job; False when there was none."""
        job = self._queue.claim(self.worker_id)
        if job is None:
            return False
        log.info("job %s: %s (attempt %d)", job.id, job.source, job.attempts)
        try:
            with LeaseKeeper(self._queue, job.id, self.worker_id) as lease:
                chunks = self._process(job, lease)
        except LeaseLostError:
            log.warning("job %s: cancelled or taken over; stopping it here", job.id)
            self._cleanup_if_deleted(job)
        except SynthragError as exc:
            # Bad input never gets better on retry; backend trouble (store, model) may.
            self._fail(job, exc.message, retryable=not isinstance(exc, InputError))
        except Exception as exc:
            # An unexpected error (a bug, an unwrapped library error) still counts as an attempt:
            # left running, the job would be re-claimed after every lease, forever.
            log.exception("job %s: unexpected error", job.id)
            self._fail(job, f"internal error: {type(exc).__name__}: {exc}", retryable=True)
        else:
            self._unoptimized[job.collection] = self._unoptimized.get(job.collection, 0) + chunks
            self._on_done("indexed", chunks)
        return True

    def _fail(self, job: JobRecord, error: str, *, retryable: bool) -> None:
        with self._db.transaction() as conn:
            state = self._queue.fail(conn, job, self.worker_id, error, retryable=retryable)
            if state == "failed":
                self._catalog.set_status(conn, job.document_id, "failed", error=error)
        if state is None:
            log.warning("job %s: %s (cancelled or taken over meanwhile)", job.id, error)
            return
        log.warning("job %s: %s (%s)", job.id, error, state)
        self._on_done("failed" if state == "failed" else "retrying", 0)

    def _process(self, job: JobRecord, lease: LeaseKeeper) -> int:
        self._beat(job, "parsing")
        # An upload was parsed (under the same limits) when it was accepted; a re-ingest parses here.
        data = self._blobs.get(job.blob_sha256, tenant=job.tenant)  # the original must stay, for re-ingest
        document = self._blobs.take_parsed(job.blob_sha256, tenant=job.tenant)
        if document is None or document.source != job.source:
            parse = parse_isolated if self._isolated else parse_document
            document = parse(data, job.source, self._limits)
        if lease.lost.is_set():
            raise LeaseLostError(job.id)
        with self._db.transaction() as conn:
            if self._catalog.is_deleting(conn, job.document_id):
                raise LeaseLostError(job.id)
            self._catalog.set_status(conn, job.document_id, "indexing")
        item = IngestItem(
            document=document,
            source_key=job.source,
            document_id=job.document_id,
            tags=job.tags,
            metadata=job.metadata,
        )
        [outcome] = self._ingestor.ingest(
            [item],
            collection=job.collection,
            on_stage=lambda stage, done, total: self._beat(job, stage, done, total),
            raise_errors=True,
        )
        with self._db.transaction() as conn:
            # The tombstone is checked under the transaction that commits the job: a deletion either
            # came first (the job is cancelled, the points are removed below) or comes after (and removes them).
            owned = not self._catalog.is_deleting(conn, job.document_id) and self._queue.finish(
                conn, job.id, self.worker_id, chunks=outcome.chunks
            )
            if owned:
                self._catalog.set_status(conn, job.document_id, "indexed", chunks=outcome.chunks)
        if not owned:
            raise LeaseLostError(job.id)
        log.info("job %s: %s %s, %d chunks", job.id, job.source, outcome.status, outcome.chunks)
        return outcome.chunks

    def _beat(self, job: JobRecord, stage: str, done: int = 0, total: int = 0) -> None:
        if not self._queue.heartbeat(job.id, self.worker_id, stage=stage, done=done, total=total):
            raise LeaseLostError(job.id)

    def _cleanup_if_deleted(self, job: JobRecord) -> None:
        """A document deleted while we indexed it must not keep the points we just wrote."""
        if self._catalog.exists(job.document_id):
            return  # taken over by another worker, or superseded by a newer version: not ours to remove
        # This worker writes nothing more: its lease no longer holds the deletion back.
        self._queue.release(job.id)
        tombstone = self._catalog.tombstone(job.document_id)
        if tombstone is not None and self._deletions is not None:
            self._deletions.purge(tombstone)
            return
        self._store.delete_document(job.collection, job.document_id)
        self._store.delete_document(synthetic_collection(job.collection), job.document_id)
