"""``python -m bench http-cost [--smoke]``: where a lone ``/v1/search`` round trip's time goes, side by side.

One index (the throughput benchmark's, ``chunks`` synthetic chunks), copied three times: ``synthrag
serve`` with the defaults, ``synthrag serve`` with ``SYNTHRAG_SEARCH_LONE_INLINE=false`` (every store
step on a search thread, as before), and this process's own :class:`Searcher`. For each query, in
rotating order, one client at a time:

- ``searcher``: ``Searcher.search`` in this process: the search itself, no HTTP;
- ``http``: ``POST /v1/search`` to the default service with ``http.client`` (keep-alive; a lean client);
- ``http_threads``: the same to the threads-only service;
- ``httpx``: the same as ``http`` with an ``httpx.Client`` (the search benchmark's client);
- ``healthz``: ``GET /healthz`` on the default service: the stack's floor (middleware, routing, no search).

The services log at WARNING (no access line per request). Reported: medians, p95s, and paired medians
of per-query differences with 95% bootstrap intervals.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from app.components import build_components
from bench import corpus, memory, run_all, scale, throughput
from bench.stats import bootstrap_interval, machine, percentile
from kernel.models import SearchMode
from kernel.settings import configure_offline, get_settings

BENCH_DIR = Path(__file__).resolve().parent
COLLECTION = run_all.COLLECTION
MODES = (SearchMode.BM25, SearchMode.HYBRID)
PATHS = ("searcher", "http", "http_threads", "httpx", "healthz")
FULL: dict[str, Any] = {"chunks": 100_000, "queries": 300, "reps": 2}
SMOKE: dict[str, Any] = {"chunks": 200, "queries": 20, "reps": 1}


class LeanClient:
    """One keep-alive ``http.client`` connection: what a request costs with little client work."""

    def __init__(self, port: int) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if data is not None else {}
        self._conn.request(method, path, body=data, headers=headers)
        response = self._conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:200]!r}")
        return payload

    def close(self) -> None:
        self._conn.close()


def _copies(data: Path, work: Path) -> list[Path]:
    """Three copies of the index (a qdrant-edge shard is opened by one process)."""
    out = []
    for name in ("http", "threads", "searcher"):
        target = work / f"http-cost-{name}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(data, target)
        out.append(target)
    return out


def measure(data: Path, work: Path, cfg: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Per mode and path, the ms of each query, taken in rotating order."""
    default_dir, threads_dir, own_dir = _copies(data, work)
    queries = corpus.query_texts(cfg["queries"], seed=23)
    components = build_components(get_settings(data_dir=own_dir, collection=COLLECTION))
    samples: dict[str, dict[str, list[float]]] = {m.value: {p: [] for p in PATHS} for m in MODES}
    try:
        with (
            memory.ServeProcess(default_dir, COLLECTION, work / "serve-http-cost.log") as default,
            memory.ServeProcess(
                threads_dir, COLLECTION, work / "serve-http-cost-threads.log", {"SYNTHRAG_SEARCH_LONE_INLINE": "false"}
            ) as threads,
            httpx.Client(base_url=default.base_url, timeout=60) as via_httpx,
        ):
            lean, lean_threads = LeanClient(default.port), LeanClient(threads.port)
            searcher = components.search.searcher

            def calls(mode: SearchMode, text: str) -> dict[str, Callable[[], object]]:
                body = {"query": text, "k": 10, "mode": mode.value}
                return {
                    "searcher": lambda: searcher.search(text, collection=COLLECTION, k=10, mode=mode),
                    "http": lambda: lean.call("POST", "/v1/search", body),
                    "http_threads": lambda: lean_threads.call("POST", "/v1/search", body),
                    "httpx": lambda: via_httpx.post("/v1/search", json=body).raise_for_status(),
                    "healthz": lambda: lean.call("GET", "/healthz"),
                }

            for text in queries[:10]:  # warm-up: lazy loading, caches
                for mode in MODES:
                    for fn in calls(mode, text).values():
                        fn()
            turn = 0
            for _ in range(cfg["reps"]):
                for text in queries:
                    for mode in MODES:
                        fns = list(calls(mode, text).items())
                        turn += 1
                        for path, fn in fns[turn % len(fns) :] + fns[: turn % len(fns)]:
                            started = time.perf_counter()
                            fn()
                            samples[mode.value][path].append((time.perf_counter() - started) * 1000)
            lean.close()
            lean_threads.close()
    finally:
        components.close()
    return samples


def summarize(samples: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Medians, p95s and paired differences (ms) per mode."""

    def paired(a: list[float], b: list[float]) -> dict[str, Any]:
        diffs = [x - y for x, y in zip(a, b, strict=True)]
        low, high = bootstrap_interval(diffs, resamples=2000, statistic=lambda d: percentile(d, 50))
        return {"median": round(percentile(diffs, 50), 3), "ci95": (round(low, 3), round(high, 3))}

    out: dict[str, Any] = {}
    for mode, paths in samples.items():
        out[mode] = {
            "ms": {
                p: {"p50": round(percentile(v, 50), 3), "p95": round(percentile(v, 95), 3)} for p, v in paths.items()
            },
            "http_over_searcher": paired(paths["http"], paths["searcher"]),
            "threads_over_http": paired(paths["http_threads"], paths["http"]),
            "httpx_over_http": paired(paths["httpx"], paths["http"]),
            "healthz_p50": round(percentile(paths["healthz"], 50), 3),
        }
    return out


def to_markdown(results: dict[str, Any]) -> str:
    """HTTP_COST.md."""
    s = results["summary"]
    lines = [
        "# The fixed cost of a lone /v1/search over HTTP",
        "",
        f"Generated by `python -m bench http-cost{' --smoke' if results['mode'] == 'smoke' else ''}` in "
        f"{results['total_s']} s on {results['machine']['cores']} cores ({results['points']:,} chunks; "
        f"{results['config']['queries']} queries x {results['config']['reps']} per mode, one request at a time, "
        "paths in rotating order). `searcher`: `Searcher.search` in the benchmark process; `http`: the default "
        "service through `http.client`; `http_threads`: a service with `SYNTHRAG_SEARCH_LONE_INLINE=false`; "
        "`httpx`: the default service through `httpx`; `healthz`: `GET /healthz`. ms.",
        "",
        "| mode | " + " | ".join(f"{p} p50 | {p} p95" for p in PATHS) + " |",
        "|---|" + "---|" * (2 * len(PATHS)),
    ]
    for mode, v in s.items():
        cells = " | ".join(f"{v['ms'][p]['p50']} | {v['ms'][p]['p95']}" for p in PATHS)
        lines.append(f"| {mode} | {cells} |")
    lines += ["", "Paired medians of per-query differences (ms, 95% bootstrap interval):", ""]
    for mode, v in s.items():
        parts = [
            f"HTTP over the search itself {v['http_over_searcher']['median']} {v['http_over_searcher']['ci95']}",
            f"store step on a thread instead of the loop {v['threads_over_http']['median']:+} "
            f"{v['threads_over_http']['ci95']}",
            f"httpx instead of http.client {v['httpx_over_http']['median']:+} {v['httpx_over_http']['ci95']}",
        ]
        lines.append(f"- {mode}: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def run(smoke: bool, out_dir: Path, work: Path) -> dict[str, Any]:
    """Build or reuse the index, measure, write HTTP_COST.md and http_cost.json."""
    configure_offline()
    cfg = SMOKE if smoke else FULL
    started = time.perf_counter()
    data = throughput.ensure_index(work, cfg["chunks"])
    points = json.loads((data / throughput.READY).read_text(encoding="utf-8"))["points"]
    samples = measure(data, work, cfg)
    results: dict[str, Any] = {
        "mode": "smoke" if smoke else "full",
        "machine": machine(),
        "config": cfg,
        "points": points,
        "summary": summarize(samples),
        "total_s": round(time.perf_counter() - started, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "http_cost.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / "HTTP_COST.md").write_text(to_markdown(results), encoding="utf-8")
    scale.refresh(out_dir)  # RESULTS.md's "Throughput and scale" section
    return results


def main(argv: list[str] | None = None) -> int:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="200 chunks, 20 queries (CI)")
    parser.add_argument("--out", type=Path, default=None, help="where HTTP_COST.md goes (default bench/)")
    parser.add_argument("--work", type=Path, default=None, help="scratch indexes (default bench/out/run[-smoke])")
    args = parser.parse_args(argv)
    out = args.out or (BENCH_DIR / "out" / "smoke" if args.smoke else BENCH_DIR)
    work = args.work or BENCH_DIR / "out" / ("run-smoke" if args.smoke else "run")
    results = run(args.smoke, out, work)
    print(to_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
