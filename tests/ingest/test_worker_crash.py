"""A real worker process killed with SIGKILL mid-job: after a restart the store holds exactly the expected points."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.components import build_components
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.fixtures_docs import make_txt

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "synthrag"
TOPICS = ["glaciers", "orchids", "railways", "comets", "violins", "coral reefs"]


def _document(topic: str) -> bytes:
    # ~60 chunks each, so a worker spends seconds per document and can be killed inside one.
    paragraphs = [
        f"Paragraph {i} about {topic}: " + " ".join(f"{topic} fact {i}-{j} is worth noting." for j in range(25))
        for i in range(40)
    ]
    return make_txt(paragraphs)


def _upload_all(settings: Settings, embedder: SentenceTransformerEmbedder) -> list[str]:
    components = build_components(settings, embedder=embedder)
    try:
        return [
            components.ingest.documents.upload(
                tenant="", collection="default", data=_document(t), filename=f"{t}.txt", tags=[], metadata={}
            ).document_id
            for t in TOPICS
        ]
    finally:
        components.close()


def _points(settings: Settings, embedder: SentenceTransformerEmbedder, doc_ids: list[str]) -> dict[str, set[str]]:
    components = build_components(settings, embedder=embedder)
    try:
        assert components.search.store.count("default") == sum(
            len(components.search.store.document_point_ids("default", d)) for d in doc_ids
        )
        return {d: components.search.store.document_point_ids("default", d) for d in doc_ids}
    finally:
        components.close()


def _jobs(db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT state, chunks_done FROM jobs").fetchall()


def test_killed_worker_leaves_no_duplicates_or_orphans(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    # Reference: the same uploads indexed by an uninterrupted in-process worker.
    reference = Settings(data_dir=tmp_path / "reference")
    ref_ids = _upload_all(reference, embedder)
    components = build_components(reference, embedder=embedder)
    try:
        worker = components.new_worker()
        while worker.run_once():
            pass
    finally:
        components.close()
    expected = _points(reference, embedder, ref_ids)
    assert all(expected.values())

    crashed = Settings(data_dir=tmp_path / "crashed")
    doc_ids = _upload_all(crashed, embedder)
    assert sorted(doc_ids) == sorted(ref_ids)  # ids derive from content and names, not from the run
    env = {**os.environ, "SYNTHRAG_DATA_DIR": str(crashed.data_dir), "SYNTHRAG_JOB_LEASE_S": "3"}
    db = crashed.data_dir / "synthrag.db"
    proc = subprocess.Popen([str(SCRIPT), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while True:
            jobs = _jobs(db)
            done = sum(1 for state, _ in jobs if state == "done")
            mid_job = any(state == "running" and chunks_done > 0 for state, chunks_done in jobs)
            if done >= 2 and mid_job:
                break
            assert proc.poll() is None, "worker exited early"
            assert time.monotonic() < deadline, f"worker made no progress: {jobs}"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    states = [state for state, _ in _jobs(db)]
    assert "done" in states and states.count("done") < len(TOPICS)

    # The dead worker's job is not reported as running once its lease has run out.
    time.sleep(3.5)
    components = build_components(crashed, embedder=embedder)
    try:
        views = [components.ingest.jobs.get("", job_id) for (job_id,) in _job_ids(db)]
        assert all(v.state != "running" for v in views)
    finally:
        components.close()

    restart = subprocess.run(
        [str(SCRIPT), "worker", "--exit-when-idle"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert restart.returncode == 0, restart.stderr[-2000:]
    assert {state for state, _ in _jobs(db)} == {"done"}
    assert _points(crashed, embedder, doc_ids) == expected


def _job_ids(db: Path) -> list[tuple[str]]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT id FROM jobs").fetchall()
