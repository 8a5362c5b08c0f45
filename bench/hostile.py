"""/healthz latency while hostile requests are processed: ``python -m bench hostile [--smoke]``.

A real ``synthrag serve`` process (two tenants, one in-process worker, the bundled models) is started on
loopback; for each attack a thread polls ``/healthz`` every 20 ms from the attack's start until the
service has dealt with it (the job finished, the request answered, the stalled stream released), and
the poll latencies' p50 / p99 / max are reported with the attack's outcome. Writes ``bench/HOSTILE.md``
and ``bench/hostile.json`` (``--out DIR`` elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.hostile_inputs import attack_files, stalled_stream
from bench.stats import machine, percentile
from tests.fixtures_docs import make_txt

KEY_A = "bench-key-alpha-0123456789"
KEY_B = "bench-key-beta-9876543210"
POLL_S = 0.02
MIN_POLLS = 3
ROOT = Path(__file__).resolve().parent.parent
SEED_NOTE = (
    "Beekeepers harvest honey in late summer once the frames are capped with wax. The frames are "
    "uncapped with a hot knife and spun in an extractor; the honey is strained and left to settle."
)


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_service(data_dir: Path) -> Served:
    """``synthrag serve`` in its own process, ready (``/readyz`` 200) when returned."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHRAG_")}
    env.update(
        HF_HUB_OFFLINE="1",
        SYNTHRAG_DATA_DIR=str(data_dir),
        SYNTHRAG_API_KEYS=json.dumps({KEY_A: "alpha", KEY_B: "beta"}),
        SYNTHRAG_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"synthrag serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return Served(url, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("synthrag serve was not ready within 300 s")


class Poller:
    """Polls /healthz in a thread; latencies in ms (a failed or timed-out poll counts as its timeout)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            # At least MIN_POLLS even when the service dealt with the attack before the first one.
            while not self._stop.is_set() or len(self.latencies) < MIN_POLLS:
                started = time.perf_counter()
                try:
                    ok = client.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - started) * 1000
                self.latencies.append(elapsed if ok else 10_000.0)
                self._stop.wait(POLL_S)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def wait_job(client: httpx.Client, job_id: str, timeout_s: float) -> str:
    """The job's final state (or ``still <state>`` after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    state = "queued"
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        state = job["state"]
        if state in ("done", "failed", "cancelled"):
            error = job.get("error") or ""
            return f"{state}: {error[:90]}" if error else state
        time.sleep(0.1)
    return f"still {state} after {timeout_s:.0f} s"


def upload_attack(name: str, data: bytes, timeout_s: float) -> Callable[[Served], str]:
    """Upload one hostile file as tenant alpha and wait until its job ends (or the upload is refused)."""

    def run(served: Served) -> str:
        with httpx.Client(base_url=served.url, timeout=600, headers={"Authorization": f"Bearer {KEY_A}"}) as client:
            response = client.post("/v1/documents", files=[("files", (name, data, "application/octet-stream"))])
            if response.status_code != 202:
                return f"{response.status_code}: {response.json()['error']['message'][:90]}"
            [result] = response.json()["results"]
            return f"202, job {wait_job(client, result['job_id'], timeout_s)}"

    return run


def body_attack(path: str, size: int, *, key: str | None, chunked: bool) -> Callable[[Served], str]:
    """Stream ``size`` bytes to ``path`` (announced or chunked) and report how the server answered."""

    def run(served: Served) -> str:
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        block = b"a" * 65536

        def body() -> Any:
            for _ in range(size // len(block)):
                yield block

        content = body() if chunked else b"a" * size
        try:
            response = httpx.post(served.url + path, content=content, headers=headers, timeout=120)
        except httpx.HTTPError as exc:  # the server may close the connection after answering early
            return f"connection closed ({type(exc).__name__})"
        return f"{response.status_code}: {response.json()['error']['message'][:90]}"

    return run


def seed(served: Served) -> None:
    """One ordinary document per tenant, so answers have sources and the model really generates."""
    note = make_txt([SEED_NOTE])
    for key in (KEY_A, KEY_B):
        with httpx.Client(base_url=served.url, timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
            response = client.post("/v1/documents", files=[("files", ("note.txt", note, "text/plain"))])
            [result] = response.json()["results"]
            assert wait_job(client, result["job_id"], 120) == "done"


def measure(served: Served, name: str, attack: Callable[[Served], str]) -> dict[str, Any]:
    """Run one attack while polling /healthz; the row of the report."""
    started = time.perf_counter()
    with Poller(served.url) as poller:
        outcome = attack(served)
    ms = sorted(poller.latencies)
    return {
        "attack": name,
        "outcome": outcome,
        "seconds": round(time.perf_counter() - started, 2),
        "polls": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2),
    }


def attacks(smoke: bool) -> list[tuple[str, Callable[[Served], str]]]:
    """Every hostile input, by name (smaller in the smoke variant)."""
    scale = 0.1 if smoke else 1.0
    out: list[tuple[str, Callable[[Served], str]]] = [
        (label, upload_attack(filename, data, timeout_s=300)) for label, filename, data in attack_files(scale)
    ]
    big = int(400 * 2**20 * scale)
    out += [
        ("400 MB body, no key (/v1/search)", body_attack("/v1/search", big, key=None, chunked=False)),
        ("chunked 400 MB body, with key (/v1/search)", body_attack("/v1/search", big, key=KEY_A, chunked=True)),
        ("stream opened and never read (chat)", lambda s: stalled_stream(s.url, KEY_A, KEY_B, hold_s=20 * scale)),
    ]
    return out


def report(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The Markdown report."""
    lines = [
        "# /healthz while hostile input is processed",
        "",
        f"`python -m bench hostile{' --smoke' if meta['smoke'] else ''}` on {meta['machine']['cores']} cores, "
        f"{meta['date']}. /healthz polled every {POLL_S * 1000:.0f} ms from each attack's start until the "
        "service had dealt with it.",
        "",
        "| attack | outcome | s | polls | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        outcome = r["outcome"].replace("|", "/")
        lines.append(
            f"| {r['attack']} | {outcome} | {r['seconds']} | {r['polls']} | {r['p50_ms']} | {r['p99_ms']} "
            f"| {r['max_ms']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench hostile", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small inputs (CI)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="where HOSTILE.md goes")
    parser.add_argument("--only", default="", help="run only the attacks whose name contains this text")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="synthrag-hostile-") as tmp:
        served = start_service(Path(tmp) / "data")
        try:
            seed(served)
            chosen = [(n, a) for n, a in attacks(args.smoke) if args.only.lower() in n.lower()]
            rows = [measure(served, name, attack) for name, attack in chosen]
            alive = httpx.get(f"{served.url}/healthz", timeout=5).status_code == 200
        finally:
            served.process.terminate()
            served.process.wait(timeout=60)
    meta = {"smoke": args.smoke, "machine": machine(), "date": time.strftime("%Y-%m-%d"), "alive_after": alive}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "HOSTILE.md").write_text(report(rows, meta))
    (args.out / "hostile.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    print(report(rows, meta))
    worst = max(r["p99_ms"] for r in rows)
    print(f"worst /healthz p99: {worst:.1f} ms; service alive after: {alive}")
    return 0 if alive else 1
