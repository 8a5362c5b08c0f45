"""Bm25Stats on a real SQLite file: atomic counting under threads, migration from metadata, restart."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ingest.bm25_stats import DEFAULT_AVG_LEN, Bm25Stats
from kernel.sqlite import Database

THREADS = 64
ADDS_PER_THREAD = 25


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "synthrag.db"


def _counts(db: Database, collection: str) -> tuple[int, int]:
    row = db.read().execute("SELECT total_len, docs FROM bm25_stats WHERE collection=?", (collection,)).fetchone()
    return (int(row["total_len"]), int(row["docs"])) if row is not None else (0, 0)


def test_average_before_any_document_and_its_floor(path: Path) -> None:
    stats = Bm25Stats(Database(path))
    assert stats.average("c") == DEFAULT_AVG_LEN
    assert stats.add("c", []) == DEFAULT_AVG_LEN  # nothing to count: no row is made
    assert _counts(Database(path), "c") == (0, 0)
    assert stats.add("c", [0, 0]) == 1.0  # an average under one token would blow up BM25 weights
    assert stats.add("c", [10, 20]) == pytest.approx(30 / 4)
    assert stats.average("c") == pytest.approx(30 / 4)
    assert stats.average("other") == DEFAULT_AVG_LEN


def test_concurrent_adds_lose_no_update(path: Path) -> None:
    # Two Database objects on one file stand for two processes; 64 threads share them.
    stats = [Bm25Stats(Database(path)), Bm25Stats(Database(path))]
    start = threading.Barrier(THREADS)

    def work(n: int) -> list[float]:
        start.wait()  # all threads add at once
        return [stats[n % 2].add("c", [n, 1]) for _ in range(ADDS_PER_THREAD)]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        averages = [a for result in pool.map(work, range(THREADS)) for a in result]

    total = ADDS_PER_THREAD * sum(n + 1 for n in range(THREADS))
    docs = ADDS_PER_THREAD * THREADS * 2
    assert _counts(Database(path), "c") == (total, docs)
    assert stats[0].average("c") == pytest.approx(total / docs)
    assert len(averages) == ADDS_PER_THREAD * THREADS


def test_migrate_seeds_from_old_metadata_once(path: Path) -> None:
    stats = Bm25Stats(Database(path))
    stats.migrate("c", {"embed_model": "m"})  # no old counters: nothing to adopt
    assert _counts(Database(path), "c") == (0, 0)
    stats.migrate("c", {"embed_model": "m", "bm25_total_len": 1200, "bm25_docs": 10})
    assert stats.average("c") == pytest.approx(120.0)
    assert stats.add("c", [30]) == pytest.approx(1230 / 11)
    # The metadata still holds the old counters; adopting them again would lose the new document.
    stats.migrate("c", {"embed_model": "m", "bm25_total_len": 1200, "bm25_docs": 10})
    assert _counts(Database(path), "c") == (1230, 11)


def test_start_zeroes_only_when_claimed(path: Path) -> None:
    stats = Bm25Stats(Database(path))
    stats.add("c", [40, 60])
    assert stats.start("c", lambda: False) is False
    assert stats.average("c") == 50.0
    assert stats.start("c", lambda: True) is True
    assert stats.average("c") == DEFAULT_AVG_LEN
    assert _counts(Database(path), "c") == (0, 0)


def test_start_keeps_counts_when_the_claim_fails(path: Path) -> None:
    stats = Bm25Stats(Database(path))
    stats.add("c", [40, 60])

    def broken() -> bool:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError, match="store down"):
        stats.start("c", broken)
    assert stats.average("c") == 50.0
