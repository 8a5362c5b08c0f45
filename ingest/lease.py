"""Keeps a running job's lease alive from a background thread, whatever stage the job is in."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from ingest.jobs import JobQueue

log = logging.getLogger(__name__)

#: Renewals per lease period: a renewal may be late (a busy machine, a locked database) and still land in time.
RENEWALS_PER_LEASE = 4


class LeaseKeeper:
    """Renews one job's lease every ``lease_s / RENEWALS_PER_LEASE`` seconds while the job runs.

    Progress heartbeats come from the stages that report progress (embedding, generation); parsing a
    big file, the document notes, the filter's round-trip searches and storing do not, and may run
    longer than a lease. Without renewals another worker would take the job over from a healthy one.
    Use as a context manager around the job; :attr:`lost` is set when the job was cancelled or taken over.
    """

    def __init__(self, queue: JobQueue, job_id: str, worker_id: str) -> None:
        self._queue = queue
        self._job_id = job_id
        self._worker_id = worker_id
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id[:8]}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = self._queue.lease_s / RENEWALS_PER_LEASE
        while not self._stop.wait(interval):
            try:
                owned = self._queue.renew(self._job_id, self._worker_id)
            except Exception:  # a locked or failing database: try again at the next tick, the lease has slack
                log.exception("job %s: renewing its lease failed", self._job_id)
                continue
            if not owned:
                self.lost.set()
                return
