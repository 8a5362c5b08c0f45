"""Lease renewal while a job runs (hardening issue, finding 6): a healthy worker never loses its job.

A stage that reports no progress (here a slow parse) runs three times longer than the lease; a second
worker polling the queue all the while must find nothing to take, and the job finishes in one attempt.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import ingest.worker
from app.components import Components
from ingest.jobs import JobQueue, JobSpec
from ingest.lease import LeaseKeeper
from ingest.parse import parse_document
from kernel.models import Document
from kernel.settings import Settings
from kernel.sqlite import Database
from tests.fixtures_docs import BEEKEEPING, make_txt

LEASE_S = 1.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Parsed in this process, so that the slow parse below is the one that runs.
    return Settings(data_dir=tmp_path / "data", job_lease_s=LEASE_S, workers=0, parse_isolated=False)


@pytest.mark.slow
def test_a_stage_longer_than_the_lease_is_not_taken_over(
    components: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsing = threading.Event()

    def slow_parse(data: bytes, source: str, *args: Any) -> Document:
        parsing.set()
        time.sleep(3 * LEASE_S)  # no heartbeat from here: only the lease keeper renews
        return parse_document(data, source, *args)

    monkeypatch.setattr(ingest.worker, "parse_document", slow_parse)
    # An upload is parsed when accepted; without that parse kept, the worker parses it (the slow stage).
    monkeypatch.setattr(components.ingest.blobs, "take_parsed", lambda *_args, **_kwargs: None)
    result = components.ingest.documents.upload(
        tenant="", collection="default", data=make_txt(BEEKEEPING), filename="bees.txt", tags=[], metadata={}
    )
    assert result.job_id is not None
    worker = components.new_worker()
    runner = threading.Thread(target=worker.run_once)
    runner.start()
    assert parsing.wait(30)
    stolen = []
    while runner.is_alive():
        job = components.ingest.jobs.claim("second-worker")
        if job is not None:
            stolen.append(job)
        time.sleep(0.05)
    runner.join()
    assert stolen == []
    job = components.ingest.jobs.get("", result.job_id)
    assert job.state == "done" and job.attempts == 1


def test_the_keeper_reports_a_job_it_no_longer_owns(tmp_path: Path) -> None:
    db = Database(tmp_path / "q.db")
    queue = JobQueue(db, lease_s=0.2, max_attempts=3)
    spec = JobSpec(
        document_id="d", tenant="t", collection="c", blob_sha256="0" * 64, source="d.txt", tags=[], metadata={}
    )
    with db.transaction() as conn:
        job_id = queue.enqueue(conn, spec)
    assert queue.claim("w1") is not None
    with LeaseKeeper(queue, job_id, "w1") as lease:
        time.sleep(0.5)  # past two leases: renewed, still ours
        assert not lease.lost.is_set() and queue.claim("w2") is None
        with db.transaction() as conn:
            queue.cancel_document(conn, "d")
        assert lease.lost.wait(10)
