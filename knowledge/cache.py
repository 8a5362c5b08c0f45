"""Persistent generation cache: (scope + content hash, teacher model id, prompt version) -> validated output.

The scope is the tenant: a tenant's cache hits (and the timings and counters they show) never reveal
what another tenant ingested. Each entry records the documents that used it (``generation_owners``);
deleting a document removes the entries no other document uses. Entries written before owners were
recorded have no owner rows and are kept.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kernel.ids import sha256_text
from kernel.sqlite import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    content_sha256 TEXT NOT NULL,
    model_id TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    output TEXT NOT NULL,
    completion_tokens INTEGER NOT NULL,
    seconds REAL NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (content_sha256, model_id, prompt_version)
);
CREATE TABLE IF NOT EXISTS generation_owners (
    content_sha256 TEXT NOT NULL,
    model_id TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    document_id TEXT NOT NULL,
    PRIMARY KEY (content_sha256, model_id, prompt_version, document_id)
);
CREATE INDEX IF NOT EXISTS generation_owners_document ON generation_owners (document_id);
CREATE TABLE IF NOT EXISTS synthetic_reports (
    collection TEXT NOT NULL,
    document_id TEXT NOT NULL,
    doc_version TEXT NOT NULL,
    synth_key TEXT NOT NULL,
    report TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (collection, document_id)
);
"""

DB_FILE = "synthetic.db"


class GenerationCache:
    """Validated teacher outputs, so that re-ingest and repeated evals generate nothing twice.

    Only outputs that passed schema validation are stored: a failed generation is tried again next
    time (it may have been a timeout), and changing the teacher or the prompt version misses.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    def open(cls, data_dir: Path) -> GenerationCache:
        """The cache in ``data_dir``."""
        return cls(open_synth_db(data_dir))

    def get(
        self, content: str, *, model_id: str, prompt_version: str, scope: str = "", owner: str = ""
    ) -> dict[str, Any] | None:
        """The stored output for this content, teacher and prompt within ``scope`` (a tenant), or None.

        With ``owner`` (a document id) a hit also records that document as a user of the entry, in
        the same transaction as the read: a deletion of another document cannot remove the entry
        between the two.
        """
        key = (content_key(content, scope), model_id, prompt_version)
        if not owner:
            row = self._db.read().execute(_SELECT_OUTPUT, key).fetchone()
            return None if row is None else dict(json.loads(row["output"]))
        with self._db.transaction() as conn:
            row = conn.execute(_SELECT_OUTPUT, key).fetchone()
            if row is None:
                return None
            conn.execute(_INSERT_OWNER, (*key, owner))
        return dict(json.loads(row["output"]))

    def put(
        self,
        content: str,
        output: dict[str, Any],
        *,
        model_id: str,
        prompt_version: str,
        completion_tokens: int,
        seconds: float,
        scope: str = "",
        owner: str = "",
    ) -> None:
        """Store (or replace) a validated output, visible within ``scope`` (a tenant) only.

        ``owner``: the document the output was generated for (see :meth:`delete_owner`).
        """
        key = content_key(content, scope)
        with self._db.transaction() as conn:
            if owner:
                conn.execute(_INSERT_OWNER, (key, model_id, prompt_version, owner))
            conn.execute(
                "INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    model_id,
                    prompt_version,
                    json.dumps(output, ensure_ascii=False),
                    completion_tokens,
                    seconds,
                    time.time(),
                ),
            )

    def delete_owner(self, document_id: str) -> int:
        """Forget a deleted document: its owner rows, and the entries no other document uses any more.

        Entries with no owner rows at all (written before owners were recorded, or by a caller that
        named none) are kept. Idempotent, one transaction. Returns the entries removed.
        """
        with self._db.transaction() as conn:
            owned = conn.execute(
                "SELECT content_sha256, model_id, prompt_version FROM generation_owners WHERE document_id = ?",
                (document_id,),
            ).fetchall()
            conn.execute("DELETE FROM generation_owners WHERE document_id = ?", (document_id,))
            removed = 0
            for row in owned:
                key = (row["content_sha256"], row["model_id"], row["prompt_version"])
                if conn.execute(_ANY_OWNER, key).fetchone() is None:
                    removed += conn.execute(
                        "DELETE FROM generations WHERE content_sha256 = ? AND model_id = ? AND prompt_version = ?",
                        key,
                    ).rowcount
        return removed


_SELECT_OUTPUT = "SELECT output FROM generations WHERE content_sha256 = ? AND model_id = ? AND prompt_version = ?"
_INSERT_OWNER = "INSERT OR IGNORE INTO generation_owners VALUES (?, ?, ?, ?)"
_ANY_OWNER = "SELECT 1 FROM generation_owners WHERE content_sha256 = ? AND model_id = ? AND prompt_version = ? LIMIT 1"


def content_key(content: str, scope: str = "") -> str:
    """The cache key of ``content`` within ``scope``; the open scope ("") keeps the plain content hash."""
    return sha256_text(f"{scope}\x00{content}" if scope else content)


def open_synth_db(data_dir: Path) -> Database:
    """The SQLite file holding the generation cache and the per-document synthesis reports."""
    return Database(data_dir / DB_FILE, schema=SCHEMA)
