"""BM25 length statistics per collection, counted in SQLite with atomic updates."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kernel.sqlite import Database

#: Average document length (BM25 tokens) assumed while a collection has no document yet.
DEFAULT_AVG_LEN = 256.0
#: Keys under which versions before the ``bm25_stats`` table kept the counters in collection metadata.
LEGACY_TOTAL_KEY = "bm25_total_len"
LEGACY_DOCS_KEY = "bm25_docs"


def _average(total_len: int, docs: int) -> float:
    return max(total_len / docs, 1.0) if docs else DEFAULT_AVG_LEN


class Bm25Stats:
    """Total BM25 length and document count of each collection (the ``bm25_stats`` table).

    Every change is one SQL statement, so any number of threads and processes add lengths at once
    without losing one (a read-modify-write of collection metadata did lose them).
    """

    def __init__(self, db: Database) -> None:
        """Args: db: the service database (its schema holds the ``bm25_stats`` table)."""
        self._db = db

    def add(self, collection: str, lengths: Sequence[int]) -> float:
        """Count new documents of the given BM25 lengths; returns the collection's new average length."""
        if not lengths:
            return self.average(collection)
        with self._db.transaction() as conn:
            [row] = conn.execute(
                """INSERT INTO bm25_stats (collection, total_len, docs) VALUES (?, ?, ?)
                   ON CONFLICT(collection) DO UPDATE SET total_len = total_len + excluded.total_len,
                       docs = docs + excluded.docs
                   RETURNING total_len, docs""",
                (collection, sum(lengths), len(lengths)),
            ).fetchall()  # read to the end, so the statement is done before the commit
        return _average(int(row["total_len"]), int(row["docs"]))

    def average(self, collection: str) -> float:
        """The collection's average BM25 document length (``DEFAULT_AVG_LEN`` before any document)."""
        row = (
            self._db.read()
            .execute("SELECT total_len, docs FROM bm25_stats WHERE collection=?", (collection,))
            .fetchone()
        )
        return DEFAULT_AVG_LEN if row is None else _average(int(row["total_len"]), int(row["docs"]))

    def migrate(self, collection: str, metadata: Mapping[str, Any]) -> None:
        """Adopt the counters an older version kept in the collection's metadata, unless already counted here.

        Runs once in effect: the first call inserts the row, later ones find it and change nothing.
        """
        if LEGACY_DOCS_KEY not in metadata:
            return
        total, docs = int(metadata.get(LEGACY_TOTAL_KEY, 0)), int(metadata[LEGACY_DOCS_KEY])
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO bm25_stats (collection, total_len, docs) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (collection, total, docs),
            )

    def start(self, collection: str, claim: Callable[[], bool]) -> bool:
        """Zero the counts of a collection new under its name, if ``claim()`` says this caller made it new.

        A dropped collection of the same name may have left counts behind. ``claim`` (check that
        the collection is unclaimed and mark it) runs inside a write transaction, so concurrent
        callers, threads or processes, claim one at a time, and no count added for the new
        collection can precede the reset. Returns what ``claim`` returned.
        """
        with self._db.transaction() as conn:
            claimed = claim()
            if claimed:
                conn.execute("DELETE FROM bm25_stats WHERE collection=?", (collection,))
        return claimed
