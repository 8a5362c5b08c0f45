"""The SQLite database in the data dir: document catalog, job queue and BM25 counters, safe across processes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    source TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    format TEXT NOT NULL,
    tags TEXT NOT NULL,
    metadata TEXT NOT NULL,
    status TEXT NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_scope ON documents (tenant, collection, created_at);
CREATE INDEX IF NOT EXISTS documents_content ON documents (tenant, collection, content_sha256);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    blob_sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    tags TEXT NOT NULL,
    metadata TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT NOT NULL,
    chunks_total INTEGER NOT NULL DEFAULT 0,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    error TEXT,
    lease_owner TEXT,
    lease_expires REAL,
    not_before REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_claim ON jobs (state, not_before, created_at);
CREATE INDEX IF NOT EXISTS jobs_document ON jobs (document_id, state);
CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs (tenant, state);
CREATE TABLE IF NOT EXISTS tenant_claims (
    tenant TEXT PRIMARY KEY,
    turn INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bm25_stats (
    collection TEXT PRIMARY KEY,
    total_len INTEGER NOT NULL,
    docs INTEGER NOT NULL
);
"""


class Database:
    """One connection per thread to ``path``; WAL so readers never block the writer."""

    def __init__(self, path: Path, *, schema: str = SCHEMA) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._local = threading.local()
        # executescript commits on its own; CREATE ... IF NOT EXISTS makes it safe to race.
        self._conn().executescript(schema)

    @property
    def path(self) -> Path:
        """File of the database."""
        return self._path

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a claim is one atomic step.
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken up front so two processes cannot claim the same job."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def read(self) -> sqlite3.Connection:
        """A connection for reads (autocommit)."""
        return self._conn()
