"""The service as a separate process (``synthrag serve``), so its RSS is its own, and an RSS sampler."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (VmRSS from /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    """A free loopback port (closed again: the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """``synthrag serve`` on a free port with SYNTHRAG_DATA_DIR at a prepared index."""

    def __init__(self, data_dir: Path, collection: str, log_path: Path, extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self._env = {
            **os.environ,
            "SYNTHRAG_DATA_DIR": str(data_dir),
            "SYNTHRAG_COLLECTION": collection,
            "SYNTHRAG_LOG_LEVEL": "WARNING",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            **(extra_env or {}),
        }
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.startup_s = 0.0

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def __enter__(self) -> ServeProcess:
        script = Path(sys.executable).parent / "synthrag"
        cmd = [str(script)] if script.exists() else [sys.executable, "-c", "from app.cli import main; main()"]
        self._log = log = self._log_path.open("wb")
        started = time.perf_counter()
        self._proc = subprocess.Popen(
            [*cmd, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"synthrag serve exited with {self._proc.returncode}; see {self._log_path}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("synthrag serve did not answer /healthz within 180 s")
            time.sleep(0.2)
        self.startup_s = time.perf_counter() - started
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()


class RssSampler:
    """Samples a process's RSS in a thread while in use; ``peak_mb`` and ``median_mb`` afterwards."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        self._pid = pid
        self._every = every_s
        self._stop = threading.Event()
        self.samples: list[float] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(rss_mb(self._pid))
            except OSError:
                return
            self._stop.wait(self._every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak_mb(self) -> float:
        return round(max(self.samples, default=0.0), 1)
