"""Document catalog: what each tenant uploaded, its content hash and indexing status.

A document being deleted stays as a row in state ``deleting`` (a tombstone) until everything it owns is
gone; readers never see it (:mod:`ingest.deletion` finishes such deletions, also after a crash).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from kernel.errors import NotFoundError
from kernel.sqlite import Database

DocStatus = Literal["queued", "indexing", "indexed", "failed", "deleting"]
DELETING: DocStatus = "deleting"
#: SQL condition on ``documents``: not being deleted.
_LIVE = "status<>'deleting'"


class DocumentRecord(BaseModel):
    """A catalogued document."""

    model_config = ConfigDict(extra="forbid")

    id: str
    tenant: str
    collection: str
    source: str
    content_sha256: str
    size: int
    format: str
    tags: list[str]
    metadata: dict[str, Any]
    status: DocStatus
    chunks: int
    error: str | None
    created_at: float
    updated_at: float


def _record(row: sqlite3.Row) -> DocumentRecord:
    data = dict(row)
    data["tags"] = json.loads(data["tags"])
    data["metadata"] = json.loads(data["metadata"])
    return DocumentRecord.model_validate(data)


class Catalog:
    """Reads and writes the ``documents`` table; every query is scoped to one tenant."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(
        self,
        conn: sqlite3.Connection,
        *,
        document_id: str,
        tenant: str,
        collection: str,
        source: str,
        content_sha256: str,
        size: int,
        fmt: str,
        tags: list[str],
        metadata: dict[str, Any],
    ) -> None:
        """Record a new document or a new version of one (inside the caller's transaction)."""
        now = time.time()
        conn.execute(
            """INSERT INTO documents (id, tenant, collection, source, content_sha256, size, format, tags,
                   metadata, status, chunks, error, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, NULL, ?, ?)
               ON CONFLICT(id) DO UPDATE SET source=excluded.source, content_sha256=excluded.content_sha256,
                   size=excluded.size, format=excluded.format, tags=excluded.tags, metadata=excluded.metadata,
                   status='queued', error=NULL, updated_at=excluded.updated_at
               WHERE documents.status<>'deleting'""",
            (document_id, tenant, collection, source, content_sha256, size, fmt, json.dumps(tags),
             json.dumps(metadata), now, now),
        )  # fmt: skip

    def set_status(
        self, conn: sqlite3.Connection, document_id: str, status: DocStatus, *, chunks: int | None = None,
        error: str | None = None,
    ) -> None:  # fmt: skip
        """Update a document's status (inside the caller's transaction)."""
        conn.execute(
            # A tombstone is never revived by a worker finishing late.
            f"UPDATE documents SET status=?, chunks=COALESCE(?, chunks), error=?, updated_at=? WHERE id=? AND {_LIVE}",
            (status, chunks, error, time.time(), document_id),
        )

    def get(self, tenant: str, document_id: str) -> DocumentRecord:
        """One of the tenant's documents; NotFoundError otherwise (also for other tenants' ids)."""
        row = (
            self._db.read()
            .execute(f"SELECT * FROM documents WHERE id=? AND tenant=? AND {_LIVE}", (document_id, tenant))
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"document {document_id} not found")
        return _record(row)

    def find_by_content(self, tenant: str, collection: str, sha256: str) -> DocumentRecord | None:
        """The tenant's document in ``collection`` with exactly this content, if any."""
        row = (
            self._db.read()
            .execute(
                f"SELECT * FROM documents WHERE tenant=? AND collection=? AND content_sha256=? AND {_LIVE} LIMIT 1",
                (tenant, collection, sha256),
            )
            .fetchone()
        )
        return None if row is None else _record(row)

    def exists(self, document_id: str) -> bool:
        """Whether a document is (still) catalogued and not being deleted."""
        row = self._db.read().execute(f"SELECT 1 FROM documents WHERE id=? AND {_LIVE}", (document_id,)).fetchone()
        return row is not None

    def list(
        self,
        tenant: str,
        *,
        collection: str | None = None,
        status: str | None = None,
        tag: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[DocumentRecord], int]:
        """A page of the tenant's documents (newest first) and the total matching."""
        where = ["tenant=?", _LIVE]
        args: list[Any] = [tenant]
        if collection is not None:
            where.append("collection=?")
            args.append(collection)
        if status is not None:
            where.append("status=?")
            args.append(status)
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(documents.tags) WHERE value=?)")
            args.append(tag)
        clause = " AND ".join(where)
        conn = self._db.read()
        total = int(conn.execute(f"SELECT COUNT(*) FROM documents WHERE {clause}", args).fetchone()[0])
        rows = conn.execute(
            f"SELECT * FROM documents WHERE {clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [_record(r) for r in rows], total

    def mark_deleting(self, conn: sqlite3.Connection, tenant: str, document_id: str) -> DocumentRecord:
        """Turn one of the tenant's live documents into a tombstone (inside the caller's transaction).

        NotFoundError when the tenant has no such document, or its deletion is already under way.
        """
        row = conn.execute(
            f"SELECT * FROM documents WHERE id=? AND tenant=? AND {_LIVE}", (document_id, tenant)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"document {document_id} not found")
        conn.execute("UPDATE documents SET status=?, updated_at=? WHERE id=?", (DELETING, time.time(), document_id))
        return _record(row).model_copy(update={"status": DELETING})

    def is_deleting(self, conn: sqlite3.Connection, document_id: str) -> bool:
        """Whether a deletion of the document is under way (inside the caller's transaction)."""
        row = conn.execute("SELECT 1 FROM documents WHERE id=? AND status=?", (document_id, DELETING)).fetchone()
        return row is not None

    def deleting(self, document_ids: Collection[str]) -> frozenset[str]:
        """Those of ``document_ids`` whose deletion is under way (one query; search drops their hits)."""
        ids = sorted(set(document_ids))
        if not ids:
            return frozenset()
        marks = ",".join("?" * len(ids))
        rows = (
            self._db.read()
            .execute(f"SELECT id FROM documents WHERE status=? AND id IN ({marks})", (DELETING, *ids))
            .fetchall()
        )
        return frozenset(str(row["id"]) for row in rows)

    def tombstones(self) -> tuple[DocumentRecord, ...]:
        """Documents whose deletion started but has not finished (all tenants)."""
        rows = self._db.read().execute("SELECT * FROM documents WHERE status=?", (DELETING,)).fetchall()
        return tuple(_record(r) for r in rows)

    def tombstone(self, document_id: str) -> DocumentRecord | None:
        """The tombstone of a document being deleted, or None."""
        row = (
            self._db.read()
            .execute("SELECT * FROM documents WHERE id=? AND status=?", (document_id, DELETING))
            .fetchone()
        )
        return None if row is None else _record(row)

    def content_in_use(self, conn: sqlite3.Connection, sha256: str, *, besides: str, tenant: str | None = None) -> bool:
        """Whether a document other than ``besides`` (of ``tenant``, None: any) holds this content.

        Runs inside the caller's transaction.
        """
        sql = "SELECT 1 FROM documents WHERE content_sha256=? AND id<>?"
        args: tuple[str, ...] = (sha256, besides)
        if tenant is not None:
            sql, args = sql + " AND tenant=?", (*args, tenant)
        return conn.execute(sql + " LIMIT 1", args).fetchone() is not None

    def delete(self, conn: sqlite3.Connection, document_id: str) -> None:
        """Remove a document row (inside the caller's transaction)."""
        conn.execute("DELETE FROM documents WHERE id=?", (document_id,))
