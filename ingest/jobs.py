"""Durable job queue on SQLite: leases with heartbeats, so a dead worker's job is picked up again."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from kernel.errors import InvalidRequestError, NotFoundError, QuotaExceededError
from kernel.sqlite import Database

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed", "cancelled")
DELETED_STAGE = "document deleted"
_WORKER_DIED = "the worker stopped during every attempt; check the worker logs, then retry the job"


class JobSpec(BaseModel):
    """What a job indexes: a stored original into a (physical) collection, as a tenant's document."""

    model_config = ConfigDict(extra="forbid")

    document_id: str
    tenant: str
    collection: str
    blob_sha256: str
    source: str
    tags: list[str]
    metadata: dict[str, Any]


class JobRecord(JobSpec):
    """A job as stored; ``state`` is what a reader should believe (a lost lease reads as queued)."""

    id: str
    state: JobState
    stage: str
    chunks_total: int
    chunks_done: int
    attempts: int
    max_attempts: int
    error: str | None
    lease_owner: str | None
    lease_expires: float | None
    not_before: float
    created_at: float
    updated_at: float


def _record(row: sqlite3.Row, now: float) -> JobRecord:
    data = dict(row)
    data["tags"] = json.loads(data["tags"])
    data["metadata"] = json.loads(data["metadata"])
    if data["state"] == "running" and (data["lease_expires"] or 0) < now:
        # No live worker holds it: say so instead of claiming it is still running.
        data["state"], data["stage"] = "queued", "waiting for a worker (previous one stopped)"
    return JobRecord.model_validate(data)


def _take_turn(conn: sqlite3.Connection, tenant: str) -> None:
    """Record that ``tenant`` was served now: a counter, not a clock, so ties cannot happen."""
    conn.execute(
        "INSERT INTO tenant_claims (tenant, turn) VALUES (?, (SELECT COALESCE(MAX(turn), 0) + 1 FROM tenant_claims)) "
        "ON CONFLICT (tenant) DO UPDATE SET turn = excluded.turn",
        (tenant,),
    )


class JobQueue:
    """Enqueue, claim, heartbeat, finish; all state changes are single SQLite transactions."""

    def __init__(
        self,
        db: Database,
        *,
        lease_s: float,
        max_attempts: int,
        max_queued_jobs: int | None = None,
        max_queued_bytes: int | None = None,
    ) -> None:
        """Args: max_queued_jobs, max_queued_bytes: per tenant, over its queued and running jobs (None: no limit)."""
        self._db = db
        self._lease_s = lease_s
        self._max_attempts = max_attempts
        self._max_jobs = max_queued_jobs
        self._max_bytes = max_queued_bytes

    @property
    def lease_s(self) -> float:
        """How long a claim (or heartbeat) holds a job."""
        return self._lease_s

    def check_quota(self, conn: sqlite3.Connection, tenant: str, *, jobs: int, size: int) -> None:
        """Refuse (QuotaExceededError, 429) adding ``jobs`` jobs of ``size`` bytes past the tenant's quota."""
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(d.size), 0) FROM jobs j LEFT JOIN documents d ON d.id = j.document_id "
            "WHERE j.tenant = ? AND j.state IN ('queued', 'running')",
            (tenant,),
        ).fetchone()
        queued, queued_bytes = int(row[0]), int(row[1])
        wait = "wait for them to finish (GET /v1/jobs/{id} shows progress), then upload the rest"
        if self._max_jobs is not None and queued + jobs > self._max_jobs:
            raise QuotaExceededError(
                f"{queued:,} of your jobs are queued or running and this request adds {jobs:,}; "
                f"the limit is {self._max_jobs:,} per tenant: {wait}"
            )
        if self._max_bytes is not None and queued_bytes + size > self._max_bytes:
            raise QuotaExceededError(
                f"{queued_bytes:,} bytes of your uploads are queued or running and this request adds {size:,}; "
                f"the limit is {self._max_bytes:,} bytes per tenant: {wait}"
            )

    def enqueue(self, conn: sqlite3.Connection, spec: JobSpec, *, size: int = 0) -> str:
        """Add a job (inside the caller's transaction); older queued jobs of the document are superseded.

        Raises QuotaExceededError (the caller's transaction then rolls back) when the tenant's queue
        would hold more than its quota with this job of ``size`` bytes.
        """
        now = time.time()
        conn.execute(
            "UPDATE jobs SET state='cancelled', stage='superseded by a newer upload', updated_at=? "
            "WHERE document_id=? AND state='queued'",
            (now, spec.document_id),
        )
        self.check_quota(conn, spec.tenant, jobs=1, size=size)
        job_id = str(uuid.uuid4())
        conn.execute(
            """INSERT INTO jobs (id, document_id, tenant, collection, blob_sha256, source, tags, metadata, state,
                   stage, max_attempts, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 'queued', ?, ?, ?)""",
            (job_id, spec.document_id, spec.tenant, spec.collection, spec.blob_sha256, spec.source,
             json.dumps(spec.tags), json.dumps(spec.metadata), self._max_attempts, now, now),
        )  # fmt: skip
        return job_id

    def claim(self, worker_id: str) -> JobRecord | None:
        """Take the next runnable job (queued, or running with an expired lease), or None.

        Tenants take turns: the one served least recently goes first, then its oldest job.
        """
        now = time.time()
        with self._db.transaction() as conn:
            # A job whose workers keep dying (a crash inside a native library, say) must not loop forever.
            lost = "state='running' AND lease_expires < ? AND attempts >= max_attempts"
            conn.execute(
                f"UPDATE documents SET status='failed', error=?, updated_at=? "
                f"WHERE id IN (SELECT document_id FROM jobs WHERE {lost})",
                (_WORKER_DIED, now, now),
            )
            conn.execute(
                f"UPDATE jobs SET state='failed', stage='failed', error=?, lease_owner=NULL, updated_at=? WHERE {lost}",
                (_WORKER_DIED, now, now),
            )
            # Round robin across tenants: the tenant served least recently goes first (one that was
            # never served, first of all), then its oldest job. One tenant's hundred uploads cannot
            # push another tenant's single note to the back of the queue.
            row = conn.execute(
                """SELECT j.* FROM jobs j LEFT JOIN tenant_claims t ON t.tenant = j.tenant
                   WHERE ((j.state='queued' AND j.not_before <= ?) OR (j.state='running' AND j.lease_expires < ?))
                     AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.document_id=j.document_id AND o.id<>j.id
                                     AND o.state='running' AND o.lease_expires >= ?)
                   ORDER BY COALESCE(t.turn, 0), j.created_at LIMIT 1""",
                (now, now, now),
            ).fetchone()
            if row is None:
                return None
            _take_turn(conn, row["tenant"])
            conn.execute(
                "UPDATE jobs SET state='running', stage='starting', attempts=attempts+1, lease_owner=?, "
                "lease_expires=?, updated_at=? WHERE id=?",
                (worker_id, now + self._lease_s, now, row["id"]),
            )
            claimed = conn.execute("SELECT * FROM jobs WHERE id=?", (row["id"],)).fetchone()
        return _record(claimed, now)

    def heartbeat(self, job_id: str, worker_id: str, *, stage: str, done: int = 0, total: int = 0) -> bool:
        """Extend the lease and record progress; False when this worker no longer owns the job."""
        now = time.time()
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET stage=?, chunks_done=?, chunks_total=MAX(chunks_total, ?), lease_expires=?, "
                "updated_at=? WHERE id=? AND lease_owner=? AND state='running'",
                (stage, done, total, now + self._lease_s, now, job_id, worker_id),
            )
            return cursor.rowcount == 1

    def renew(self, job_id: str, worker_id: str) -> bool:
        """Extend the lease only (progress unchanged); False when this worker no longer owns the job."""
        now = time.time()
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET lease_expires=? WHERE id=? AND lease_owner=? AND state='running'",
                (now + self._lease_s, job_id, worker_id),
            )
            return cursor.rowcount == 1

    def finish(self, conn: sqlite3.Connection, job_id: str, worker_id: str, *, chunks: int) -> bool:
        """Mark done (inside the caller's transaction); False when the lease was lost or it was cancelled."""
        cursor = conn.execute(
            "UPDATE jobs SET state='done', stage='done', chunks_done=?, chunks_total=?, error=NULL, "
            "lease_owner=NULL, lease_expires=NULL, updated_at=? WHERE id=? AND lease_owner=? AND state='running'",
            (chunks, chunks, time.time(), job_id, worker_id),
        )
        return cursor.rowcount == 1

    def fail(
        self, conn: sqlite3.Connection, job: JobRecord, worker_id: str, error: str, *, retryable: bool
    ) -> JobState | None:
        """Record a failure: back to the queue with backoff while attempts remain, else failed.

        Returns the new state, or None when this worker no longer owns the job (nothing changed).
        """
        now = time.time()
        retry = retryable and job.attempts < job.max_attempts
        state: JobState = "queued" if retry else "failed"
        cursor = conn.execute(
            "UPDATE jobs SET state=?, stage=?, error=?, lease_owner=NULL, lease_expires=NULL, not_before=?, "
            "updated_at=? WHERE id=? AND lease_owner=? AND state='running'",
            (state, "retrying" if retry else "failed", error, now + (2**job.attempts if retry else 0), now,
             job.id, worker_id),
        )  # fmt: skip
        return state if cursor.rowcount == 1 else None

    def retry(self, tenant: str, job_id: str) -> JobRecord:
        """Put a failed (or cancelled) job back in the queue with fresh attempts."""
        job = self.get(tenant, job_id)
        if job.state not in ("failed", "cancelled"):
            raise InvalidRequestError(f"job {job_id} is {job.state}; only failed or cancelled jobs can be retried")
        with self._db.transaction() as conn:
            size = conn.execute("SELECT size FROM documents WHERE id=?", (job.document_id,)).fetchone()
            self.check_quota(conn, tenant, jobs=1, size=int(size[0]) if size else 0)
            conn.execute(
                "UPDATE jobs SET state='queued', stage='queued', attempts=0, error=NULL, not_before=0, "
                "updated_at=? WHERE id=?",
                (time.time(), job_id),
            )
        return self.get(tenant, job_id)

    def cancel_document(self, conn: sqlite3.Connection, document_id: str) -> None:
        """Cancel queued and running jobs of a deleted document (inside the caller's transaction)."""
        conn.execute(
            "UPDATE jobs SET state='cancelled', stage=?, lease_owner=NULL, updated_at=? "
            "WHERE document_id=? AND state IN ('queued', 'running')",
            (DELETED_STAGE, time.time(), document_id),
        )

    def writing(self, conn: sqlite3.Connection, document_id: str) -> bool:
        """Whether a worker may still be writing points of the document: one of its jobs holds a live lease.

        Cancelling a job leaves its lease time, so a deletion knows to come back once the worker stopped.
        """
        row = conn.execute(
            "SELECT 1 FROM jobs WHERE document_id=? AND lease_expires >= ? LIMIT 1", (document_id, time.time())
        ).fetchone()
        return row is not None

    def release(self, job_id: str) -> None:
        """Give up the lease of a job this worker stopped running (it writes nothing more)."""
        with self._db.transaction() as conn:
            conn.execute("UPDATE jobs SET lease_owner=NULL, lease_expires=NULL WHERE id=?", (job_id,))

    def blobs_of(self, conn: sqlite3.Connection, document_id: str) -> set[str]:
        """Stored originals the document's jobs index (every version still queued or recorded)."""
        rows = conn.execute("SELECT DISTINCT blob_sha256 FROM jobs WHERE document_id=?", (document_id,)).fetchall()
        return {str(r[0]) for r in rows}

    def blob_in_use(self, conn: sqlite3.Connection, sha256: str, *, besides: str, tenant: str | None = None) -> bool:
        """Whether a job of a document other than ``besides`` (of ``tenant``, None: any) indexes these bytes."""
        sql = "SELECT 1 FROM jobs WHERE blob_sha256=? AND document_id<>?"
        args: tuple[str, ...] = (sha256, besides)
        if tenant is not None:
            sql, args = sql + " AND tenant=?", (*args, tenant)
        return conn.execute(sql + " LIMIT 1", args).fetchone() is not None

    def delete_document(self, conn: sqlite3.Connection, document_id: str) -> None:
        """Remove every job row of a deleted document (inside the caller's transaction)."""
        conn.execute("DELETE FROM jobs WHERE document_id=?", (document_id,))

    def get(self, tenant: str, job_id: str) -> JobRecord:
        """One of the tenant's jobs; NotFoundError otherwise."""
        row = self._db.read().execute("SELECT * FROM jobs WHERE id=? AND tenant=?", (job_id, tenant)).fetchone()
        if row is None:
            raise NotFoundError(f"job {job_id} not found")
        return _record(row, time.time())

    def latest_for_document(self, document_id: str) -> JobRecord | None:
        """The newest job of a document."""
        row = (
            self._db.read()
            .execute("SELECT * FROM jobs WHERE document_id=? ORDER BY created_at DESC LIMIT 1", (document_id,))
            .fetchone()
        )
        return None if row is None else _record(row, time.time())

    def counts(self) -> dict[str, int]:
        """Jobs per state as readers see them (for /metrics)."""
        now = time.time()
        rows = (
            self._db.read()
            .execute(
                "SELECT CASE WHEN state='running' AND lease_expires < ? THEN 'queued' ELSE state END AS s, COUNT(*) "
                "FROM jobs GROUP BY s",
                (now,),
            )
            .fetchall()
        )
        counts: dict[str, int] = dict.fromkeys(STATES, 0)
        counts.update({row[0]: int(row[1]) for row in rows})
        return counts
