"""``synthrag worker``: run ingest workers as a separate process (SIGTERM/SIGINT stop it cleanly)."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType

from app.components import build_configured
from kernel.settings import Settings

log = logging.getLogger(__name__)


def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Process queued ingest jobs until stopped (or, with --exit-when-idle, until the queue is empty)."""
    components = build_configured(settings, answers=False)
    pool = components.worker_pool()
    stop = pool.stop_event

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current job, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if args.exit_when_idle:
            worker = components.new_worker()
            while not stop.is_set() and worker.run_once():
                pass
            worker.optimize_idle(threshold=1)
        else:
            pool.start(args.threads - 1)
            components.new_worker().run(stop)
    finally:
        pool.close()
        components.close()
    return 0
