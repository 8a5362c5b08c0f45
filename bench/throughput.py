"""``python -m bench throughput [--smoke]``: ``/v1/search`` under many concurrent clients, and one client
alone, side by side in one run, for four variants of query embedding:

- ``batched``: the defaults (micro-batched passes through ONNX Runtime);
- ``unbatched``: the path before issue 14, one sentence-transformers ``encode`` per request
  (``SYNTHRAG_EMBED_MICROBATCH=false``, ``SYNTHRAG_EMBED_RUNTIME=torch``);
- ``unbatched-onnx``: one ONNX Runtime pass per request, batching alone switched off (its share);
- ``batched-torchscript``: micro-batched passes of the traced TorchScript module (the runtime's share).

Each round starts ``synthrag serve`` once per variant (the order rotates by round) on the same index,
warms it up, then measures one client alone and ``clients`` clients at once. Ratios are paired by round.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import corpus, load, memory, run_all, scale
from bench.stats import machine, percentile
from kernel.settings import configure_offline, get_settings
from retrieval.embedding import create_embedder

BENCH_DIR = Path(__file__).resolve().parent
COLLECTION = run_all.COLLECTION
VARIANTS: dict[str, dict[str, str]] = {
    "batched": {"SYNTHRAG_EMBED_MICROBATCH": "true", "SYNTHRAG_EMBED_RUNTIME": "onnx"},
    "unbatched": {"SYNTHRAG_EMBED_MICROBATCH": "false", "SYNTHRAG_EMBED_RUNTIME": "torch"},
    "unbatched-onnx": {"SYNTHRAG_EMBED_MICROBATCH": "false", "SYNTHRAG_EMBED_RUNTIME": "onnx"},
    "batched-torchscript": {"SYNTHRAG_EMBED_MICROBATCH": "true", "SYNTHRAG_EMBED_RUNTIME": "torchscript"},
}
FULL: dict[str, Any] = {"chunks": 100_000, "clients": 50, "seconds": 15.0, "lone_seconds": 8.0, "rounds": 3}
SMOKE: dict[str, Any] = {"chunks": 200, "clients": 20, "seconds": 2.0, "lone_seconds": 1.0, "rounds": 1}
READY = ".bench-ready"


def ensure_index(work: Path, n: int) -> Path:
    """``work/data-<n>``, loaded and optimized once; later runs reuse it (a marker file says it is complete)."""
    data = work / f"data-{n}"
    if (data / READY).is_file():
        return data
    work.mkdir(parents=True, exist_ok=True)
    embedder = create_embedder(get_settings(data_dir=work / "unused"))
    components, _, load_s, _ = run_all.load_tier(work, n, embedder)
    try:
        components.search.store.optimize(COLLECTION)
        points = components.search.store.count(COLLECTION)
    finally:
        components.close()
    (data / READY).write_text(json.dumps({"points": points, "load_s": round(load_s, 1)}), encoding="utf-8")
    return data


def measure(data: Path, variant: str, cfg: dict[str, Any], queries: list[str], log_path: Path) -> dict[str, Any]:
    """One service process: warm-up, one client alone, then ``clients`` at once."""
    with memory.ServeProcess(data, COLLECTION, log_path, VARIANTS[variant]) as server:
        load.search_load(server.base_url, queries, cfg["clients"], min(cfg["seconds"], 3.0))  # warm-up
        lone = load.search_load(server.base_url, queries, 1, cfg["lone_seconds"])
        with memory.RssSampler(server.pid) as rss:
            many = load.search_load(server.base_url, queries, cfg["clients"], cfg["seconds"])
        return {"lone": lone, "many": many, "rss_peak_mb": rss.peak_mb}


def warm_up(data: Path, cfg: dict[str, Any], queries: list[str], log_path: Path) -> None:
    """One unmeasured service process under load first: the index's pages come into the page cache before any
    variant is timed (otherwise the first variant of round 1 pays for reading them; it did, by ~25%)."""
    with memory.ServeProcess(data, COLLECTION, log_path) as server:
        load.search_load(server.base_url, queries, cfg["clients"], cfg["seconds"])


def summarize(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per-round paired ratios and differences, medians and ranges (against ``unbatched``, today's path,
    and against ``unbatched-onnx``, the same model path without batching)."""

    def paired(base: str) -> dict[str, Any]:
        ratios = [r["batched"]["many"]["throughput_rps"] / r[base]["many"]["throughput_rps"] for r in rounds]
        diffs = [r["batched"]["lone"]["p50_ms"] - r[base]["lone"]["p50_ms"] for r in rounds]
        return {
            "throughput_ratio_median": round(percentile(ratios, 50), 2),
            "throughput_ratio_range": [round(min(ratios), 2), round(max(ratios), 2)],
            "lone_p50_diff_ms_median": round(percentile(diffs, 50), 2),
            "lone_p50_diff_ms_range": [round(min(diffs), 2), round(max(diffs), 2)],
        }

    def med(variant: str, part: str, key: str) -> float:
        return round(percentile([r[variant][part][key] for r in rounds], 50), 1)

    return {
        **paired("unbatched"),
        "vs_unbatched_onnx": paired("unbatched-onnx"),
        "variants": {
            v: {
                "throughput_rps": med(v, "many", "throughput_rps"),
                "p50_ms": med(v, "many", "p50_ms"),
                "p95_ms": med(v, "many", "p95_ms"),
                "p95_ms_worst": max(r[v]["many"]["p95_ms"] for r in rounds),
                "lone_p50_ms": med(v, "lone", "p50_ms"),
                "lone_p95_ms": med(v, "lone", "p95_ms"),
                "errors": sum(r[v]["many"]["errors"] + r[v]["lone"]["errors"] for r in rounds),
                "rss_peak_mb": max(r[v]["rss_peak_mb"] for r in rounds),
            }
            for v in VARIANTS
        },
    }


def goals(summary: dict[str, Any], clients: int) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) rows of issue 14's concurrency criteria."""
    b = summary["variants"]["batched"]
    lo, hi = summary["throughput_ratio_range"]
    traced = summary["vs_unbatched_onnx"]
    diff = summary["lone_p50_diff_ms_median"]
    same_path = traced["lone_p50_diff_ms_median"]
    return [
        (
            f"{clients} clients: throughput >= 3x unbatched, today's path (paired by round)",
            f"{summary['throughput_ratio_median']}x (rounds {lo}..{hi}x); batching alone (vs unbatched-onnx) "
            f"{traced['throughput_ratio_median']}x",
            lo >= 3,
        ),
        (f"{clients} clients: p95 <= 300 ms", f"{b['p95_ms_worst']} ms (worst round)", b["p95_ms_worst"] <= 300),
        ("0 errors", str(b["errors"]), b["errors"] == 0),
        (
            "one client alone: p50 within +1 ms of unbatched (both: today's path; and unbatched-onnx)",
            f"{diff:+} ms; {same_path:+} ms (medians of rounds)",
            max(diff, same_path) <= 1,
        ),
    ]


def to_markdown(results: dict[str, Any]) -> str:
    """THROUGHPUT.md."""
    cfg, s = results["config"], results["summary"]
    lines = [
        "# Search throughput under concurrency",
        "",
        f"Generated by `python -m bench throughput{' --smoke' if results['mode'] == 'smoke' else ''}` in "
        f"{results['total_s']} s on {results['machine']['cores']} cores ({results['points']} chunks, hybrid, "
        f"default settings). One unmeasured service under load first (page cache), then {cfg['rounds']} rounds; "
        f"each starts `synthrag serve` once per variant (the order rotates), warms it up, measures 1 client "
        f"for {cfg['lone_seconds']} s, then {cfg['clients']} clients for "
        f"{cfg['seconds']} s. The load client holds one keep-alive connection per client.",
        "",
        "| goal | measured | met |",
        "|---|---|---|",
        *[f"| {g} | {m} | {'yes' if ok else '**no**'} |" for g, m, ok in results["goals"]],
        "",
        f"| variant | {cfg['clients']} clients req/s | p50 ms | p95 ms | 1 client p50 ms | 1 client p95 ms "
        "| errors | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in s["variants"].items():
        lines.append(
            f"| {name} | {v['throughput_rps']} | {v['p50_ms']} | {v['p95_ms']} | {v['lone_p50_ms']} "
            f"| {v['lone_p95_ms']} | {v['errors']} | {v['rss_peak_mb']} |"
        )
    names = list(VARIANTS)
    lines += ["", f"Medians over rounds. Per round ({' / '.join(names)}):", ""]
    for i, r in enumerate(results["rounds"]):
        rps = " / ".join(str(r[v]["many"]["throughput_rps"]) for v in names)
        lone = " / ".join(str(r[v]["lone"]["p50_ms"]) for v in names)
        lines.append(f"- round {i + 1}: {rps} req/s; lone p50 {lone} ms")
    return "\n".join(lines) + "\n"


def run(smoke: bool, out_dir: Path, work: Path) -> dict[str, Any]:
    """Build or reuse the index, measure every round, write THROUGHPUT.md and throughput.json."""
    configure_offline()
    cfg = SMOKE if smoke else FULL
    started = time.perf_counter()
    data = ensure_index(work, cfg["chunks"])
    points = json.loads((data / READY).read_text(encoding="utf-8"))["points"]
    queries = corpus.query_texts(200, seed=11)
    rounds: list[dict[str, dict[str, Any]]] = []
    run_all.log("warm-up (not measured)")
    warm_up(data, cfg, queries, work / "serve-warm-up.log")
    for i in range(cfg["rounds"]):
        names = list(VARIANTS)
        order = names[i % len(names) :] + names[: i % len(names)]
        row: dict[str, dict[str, Any]] = {}
        for variant in order:
            run_all.log(f"round {i + 1}: {variant}")
            row[variant] = measure(data, variant, cfg, queries, work / f"serve-{variant}.log")
            many = row[variant]["many"]
            run_all.log(f"  {many['throughput_rps']} req/s, p95 {many['p95_ms']} ms")
        rounds.append(row)
    summary = summarize(rounds)
    results: dict[str, Any] = {
        "mode": "smoke" if smoke else "full",
        "machine": machine(),
        "config": cfg,
        "points": points,
        "rounds": rounds,
        "summary": summary,
        "goals": goals(summary, cfg["clients"]),
        "total_s": round(time.perf_counter() - started, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "throughput.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / "THROUGHPUT.md").write_text(to_markdown(results), encoding="utf-8")
    scale.refresh(out_dir)  # RESULTS.md's "Throughput and scale" section
    return results


def main(argv: list[str] | None = None) -> int:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="200 chunks, seconds of load (CI)")
    parser.add_argument("--out", type=Path, default=None, help="where THROUGHPUT.md goes (default bench/)")
    parser.add_argument("--work", type=Path, default=None, help="scratch indexes (default bench/out/run[-smoke])")
    args = parser.parse_args(argv)
    out = args.out or (BENCH_DIR / "out" / "smoke" if args.smoke else BENCH_DIR)
    work = args.work or BENCH_DIR / "out" / ("run-smoke" if args.smoke else "run")
    results = run(args.smoke, out, work)
    print(to_markdown(results))
    return 0 if all(ok for _, _, ok in results["goals"]) or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
