"""The SQLite job queue: exclusive claims, leases, heartbeats, retries with backoff, superseding."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import ingest.jobs
from ingest.jobs import DELETED_STAGE, JobQueue, JobRecord, JobSpec
from kernel.errors import InvalidRequestError, NotFoundError
from kernel.sqlite import Database

LEASE_S = 30.0


class Clock:
    """A settable stand-in for the ``time`` module inside ingest.jobs."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "queue.db")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(ingest.jobs, "time", fake)
    return fake


@pytest.fixture
def queue(db: Database, clock: Clock) -> JobQueue:
    return JobQueue(db, lease_s=LEASE_S, max_attempts=3)


def add(db: Database, queue: JobQueue, doc: str, *, tenant: str = "t", clock: Clock | None = None) -> str:
    """Enqueue a job for ``doc``; with a fake clock, each job is created a moment after the last."""
    if clock is not None:
        clock.now += 0.001
    with db.transaction() as conn:
        spec = JobSpec(
            document_id=doc,
            tenant=tenant,
            collection="c",
            blob_sha256="0" * 64,
            source=f"{doc}.txt",
            tags=["x"],
            metadata={"k": 1},
        )
        return queue.enqueue(conn, spec)


def claimed(queue: JobQueue, worker: str) -> JobRecord:
    job = queue.claim(worker)
    assert job is not None
    return job


def fail(db: Database, queue: JobQueue, job: JobRecord, worker: str, *, retryable: bool = True) -> Any:
    with db.transaction() as conn:
        return queue.fail(conn, job, worker, "boom", retryable=retryable)


def finish(db: Database, queue: JobQueue, job_id: str, worker: str) -> bool:
    with db.transaction() as conn:
        return queue.finish(conn, job_id, worker, chunks=4)


def test_claims_are_exclusive_across_threads_and_database_objects(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    dbs = [Database(path), Database(path)]
    queues = [JobQueue(d, lease_s=LEASE_S, max_attempts=3) for d in dbs]
    ids = {add(dbs[0], queues[0], f"doc-{n}") for n in range(120)}
    start = threading.Barrier(8)
    taken: list[list[str]] = [[] for _ in range(8)]

    def work(n: int) -> None:
        queue = queues[n % 2]
        start.wait()
        while (job := queue.claim(f"w{n}")) is not None:
            taken[n].append(job.id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = [job_id for ids_of_one in taken for job_id in ids_of_one]
    assert len(everything) == len(set(everything)) == 120
    assert set(everything) == ids
    rows = dbs[1].read().execute("SELECT attempts, state FROM jobs").fetchall()
    assert {(r["attempts"], r["state"]) for r in rows} == {(1, "running")}


def _claim_all(path: str, worker: str, barrier: Any, results: Any) -> None:
    queue = JobQueue(Database(Path(path)), lease_s=LEASE_S, max_attempts=3)
    barrier.wait(timeout=60)
    mine = []
    while (job := queue.claim(worker)) is not None:
        mine.append(job.id)
        # A real worker works between claims; without a pause SQLite's (unfair) busy handler can let
        # one process re-take the write lock every time, and nothing would compete.
        time.sleep(0.003)
    results.put(mine)


@pytest.mark.slow
def test_claims_are_exclusive_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    db = Database(path)
    queue = JobQueue(db, lease_s=LEASE_S, max_attempts=3)
    ids = {add(db, queue, f"doc-{n}") for n in range(300)}
    ctx = multiprocessing.get_context("spawn")  # fork would copy this process's threads and connections
    barrier, results = ctx.Barrier(3), ctx.Queue()
    processes = [ctx.Process(target=_claim_all, args=(str(path), f"p{n}", barrier, results)) for n in range(3)]
    for process in processes:
        process.start()
    taken = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    everything = [job_id for mine in taken for job_id in mine]
    assert len(everything) == len(set(everything)) == 300
    assert set(everything) == ids
    assert sum(1 for mine in taken if mine) >= 2  # they really did compete
    attempts = db.read().execute("SELECT DISTINCT attempts FROM jobs").fetchall()
    assert [r[0] for r in attempts] == [1]


def test_expired_lease_reads_as_queued_and_is_claimed_again(db: Database, queue: JobQueue, clock: Clock) -> None:
    job_id = add(db, queue, "d", clock=clock)
    first = claimed(queue, "w1")
    assert first.id == job_id and first.state == "running" and first.attempts == 1
    assert first.lease_owner == "w1" and first.lease_expires == clock.now + LEASE_S
    assert queue.claim("w2") is None  # the lease is live

    clock.now += LEASE_S + 1
    stale = queue.get("t", job_id)
    assert stale.state == "queued"
    assert stale.stage == "waiting for a worker (previous one stopped)"
    assert queue.counts()["queued"] == 1 and queue.counts()["running"] == 0

    second = claimed(queue, "w2")
    assert second.id == job_id and second.attempts == 2 and second.lease_owner == "w2"
    # The first worker finds out at its next step, and changes nothing.
    assert queue.heartbeat(job_id, "w1", stage="embedding") is False
    assert finish(db, queue, job_id, "w1") is False
    assert fail(db, queue, first, "w1") is None
    assert queue.get("t", job_id).state == "running" and queue.get("t", job_id).lease_owner == "w2"
    assert queue.heartbeat(job_id, "w2", stage="storing", done=2, total=4) is True
    assert finish(db, queue, job_id, "w2") is True
    done = queue.get("t", job_id)
    assert done.state == "done" and done.chunks_done == done.chunks_total == 4 and done.lease_owner is None


def test_heartbeat_extends_the_lease_and_records_progress(db: Database, queue: JobQueue, clock: Clock) -> None:
    job_id = add(db, queue, "d", clock=clock)
    claimed(queue, "w1")
    clock.now += LEASE_S - 5
    assert queue.heartbeat(job_id, "w1", stage="embedding", done=3, total=10) is True
    clock.now += LEASE_S - 5  # past the first lease, within the extended one
    job = queue.get("t", job_id)
    assert job.state == "running" and job.stage == "embedding"
    assert (job.chunks_done, job.chunks_total) == (3, 10)
    assert queue.claim("w2") is None
    assert queue.heartbeat(job_id, "w2", stage="embedding") is False  # not w2's job


def test_heartbeat_is_false_after_the_job_was_cancelled(db: Database, queue: JobQueue, clock: Clock) -> None:
    job_id = add(db, queue, "d", clock=clock)
    claimed(queue, "w1")
    with db.transaction() as conn:
        queue.cancel_document(conn, "d")
    assert queue.heartbeat(job_id, "w1", stage="storing") is False
    assert finish(db, queue, job_id, "w1") is False
    job = queue.get("t", job_id)
    assert job.state == "cancelled" and job.stage == DELETED_STAGE
    clock.now += LEASE_S + 1
    assert queue.claim("w2") is None  # a cancelled job is never picked up again


def test_fail_retries_with_growing_backoff_until_max_attempts(db: Database, queue: JobQueue, clock: Clock) -> None:
    job_id = add(db, queue, "d", clock=clock)
    for attempt, backoff in [(1, 2), (2, 4)]:
        job = claimed(queue, "w")
        assert job.attempts == attempt
        assert fail(db, queue, job, "w") == "queued"
        waiting = queue.get("t", job_id)
        assert waiting.state == "queued" and waiting.stage == "retrying" and waiting.error == "boom"
        assert waiting.not_before == clock.now + backoff and waiting.lease_owner is None
        clock.now += backoff - 0.5
        assert queue.claim("w") is None  # still backing off
        clock.now += 0.5
    last = claimed(queue, "w")
    assert last.attempts == 3
    assert fail(db, queue, last, "w") == "failed"
    failed = queue.get("t", job_id)
    assert failed.state == "failed" and failed.stage == "failed" and failed.error == "boom"
    clock.now += 3600
    assert queue.claim("w") is None


def test_fail_without_retry_is_final_at_once(db: Database, queue: JobQueue, clock: Clock) -> None:
    job_id = add(db, queue, "d", clock=clock)
    assert fail(db, queue, claimed(queue, "w"), "w", retryable=False) == "failed"
    assert queue.get("t", job_id).state == "failed" and queue.get("t", job_id).attempts == 1


def test_retry_only_for_failed_or_cancelled_jobs(db: Database, queue: JobQueue, clock: Clock) -> None:
    job_id = add(db, queue, "d", clock=clock)
    with pytest.raises(InvalidRequestError, match="is queued"):
        queue.retry("t", job_id)
    job = claimed(queue, "w")
    with pytest.raises(InvalidRequestError, match="is running"):
        queue.retry("t", job_id)
    assert fail(db, queue, job, "w", retryable=False) == "failed"
    with pytest.raises(NotFoundError):
        queue.retry("someone-else", job_id)

    again = queue.retry("t", job_id)
    assert again.state == "queued" and again.attempts == 0 and again.error is None and again.not_before == 0
    assert claimed(queue, "w").id == job_id  # no backoff after a manual retry
    assert finish(db, queue, job_id, "w")
    with pytest.raises(InvalidRequestError, match="is done"):
        queue.retry("t", job_id)

    other = add(db, queue, "e", clock=clock)
    with db.transaction() as conn:
        queue.cancel_document(conn, "e")
    assert queue.retry("t", other).state == "queued"
    with pytest.raises(NotFoundError):
        queue.retry("t", "no-such-job")


def test_a_newer_upload_supersedes_a_queued_job_but_not_a_running_one(
    db: Database, queue: JobQueue, clock: Clock
) -> None:
    old = add(db, queue, "d", clock=clock)
    new = add(db, queue, "d", clock=clock)
    superseded = queue.get("t", old)
    assert superseded.state == "cancelled" and superseded.stage == "superseded by a newer upload"
    assert queue.get("t", new).state == "queued"
    latest = queue.latest_for_document("d")
    assert latest is not None and latest.id == new

    running = claimed(queue, "w")
    assert running.id == new
    newest = add(db, queue, "d", clock=clock)
    assert queue.get("t", new).state == "running"  # a running job finishes; the newer one waits
    assert queue.get("t", newest).state == "queued"


def test_a_document_with_a_live_running_job_is_not_claimed_twice(db: Database, queue: JobQueue, clock: Clock) -> None:
    first = add(db, queue, "d", clock=clock)
    assert claimed(queue, "w1").id == first
    second = add(db, queue, "d", clock=clock)
    other = add(db, queue, "e", clock=clock)
    assert claimed(queue, "w2").id == other  # d's newer job waits for d's running one
    assert queue.claim("w3") is None

    clock.now += LEASE_S + 1  # w1 and w2 stopped: the oldest job (d's first) goes first
    assert claimed(queue, "w3").id == first
    assert claimed(queue, "w4").id == other
    assert queue.claim("w5") is None
    assert finish(db, queue, first, "w3")
    assert claimed(queue, "w5").id == second


def test_counts_per_state(db: Database, queue: JobQueue, clock: Clock) -> None:
    assert queue.counts() == {"queued": 0, "running": 0, "done": 0, "failed": 0, "cancelled": 0}
    for doc in "abcdef":
        add(db, queue, doc, clock=clock)
    add(db, queue, "a", clock=clock)  # supersedes a's first job
    done, failed, running = claimed(queue, "w"), claimed(queue, "w"), claimed(queue, "w")
    assert finish(db, queue, done.id, "w")
    assert fail(db, queue, failed, "w", retryable=False) == "failed"
    assert queue.counts() == {"queued": 3, "running": 1, "done": 1, "failed": 1, "cancelled": 1}
    assert queue.heartbeat(running.id, "w", stage="embedding")
    clock.now += LEASE_S + 1
    assert queue.counts() == {"queued": 4, "running": 0, "done": 1, "failed": 1, "cancelled": 1}


def test_jobs_are_scoped_to_their_tenant(db: Database, queue: JobQueue, clock: Clock) -> None:
    job_id = add(db, queue, "d", tenant="alpha", clock=clock)
    assert queue.get("alpha", job_id).tags == ["x"] and queue.get("alpha", job_id).metadata == {"k": 1}
    with pytest.raises(NotFoundError):
        queue.get("beta", job_id)
    assert queue.latest_for_document("nothing") is None


def test_job_whose_workers_always_die_ends_failed(db: Database, queue: JobQueue, clock: Clock) -> None:
    job_id = add(db, queue, "d", clock=clock)
    for attempt in range(1, 4):  # max_attempts=3 in the fixture
        job = claimed(queue, f"w{attempt}")
        assert job.attempts == attempt
        clock.now += LEASE_S + 1  # the worker is killed: no heartbeat, no finish
    assert queue.claim("w-last") is None
    failed = queue.get("t", job_id)
    assert failed.state == "failed"
    assert failed.error is not None and "worker stopped" in failed.error


def test_tenants_take_turns_so_one_tenants_backlog_does_not_starve_another(
    db: Database, queue: JobQueue, clock: Clock
) -> None:
    a_jobs = [add(db, queue, f"a-{n}", tenant="alpha", clock=clock) for n in range(20)]
    b_job = add(db, queue, "b-0", tenant="beta", clock=clock)
    order = [claimed(queue, f"w{n}") for n in range(21)]
    assert [job.tenant for job in order[:3]] == ["alpha", "beta", "alpha"]
    assert order[1].id == b_job  # second, not 21st
    assert [job.id for job in order if job.tenant == "alpha"] == a_jobs  # each tenant's own jobs stay in order
    assert queue.claim("w-late") is None


def test_a_tenant_that_arrives_later_goes_before_the_busy_tenants_next_job(
    db: Database, queue: JobQueue, clock: Clock
) -> None:
    for n in range(5):
        add(db, queue, f"a-{n}", tenant="alpha", clock=clock)
    assert [claimed(queue, "w").tenant for _ in range(2)] == ["alpha", "alpha"]  # nobody else waits
    add(db, queue, "c-0", tenant="gamma", clock=clock)
    add(db, queue, "b-0", tenant="beta", clock=clock)
    # Neither newcomer was ever served: they go first, in the order their jobs came.
    assert [claimed(queue, "w").tenant for _ in range(3)] == ["gamma", "beta", "alpha"]
