"""Entry point: ``python -m bench all [--smoke]`` (everything), or one of the names in ``BENCHMARKS``."""

from __future__ import annotations

import sys

from bench import (
    adapt_bundle,
    adapt_sweep,
    answer_latency,
    coverage,
    fusion,
    hostile,
    http_cost,
    ingest_bench,
    million,
    run_all,
    search_latency,
    synth_throughput,
    tables,
    throughput,
)

BENCHMARKS = {
    "all": run_all.main,
    "search": search_latency.main,
    "answer": answer_latency.main,
    "synth": synth_throughput.main,
    "tables": tables.main,
    "hostile": hostile.main,
    "fusion": fusion.main,
    "coverage": coverage.main,
    "throughput": throughput.main,
    "http-cost": http_cost.main,
    "million": million.main,
    "ingest": ingest_bench.main,
    "adapt-bundle": adapt_bundle.main,
    "adapt-sweep": adapt_sweep.main,
}

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in BENCHMARKS else "all"
    rest = sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] in BENCHMARKS else sys.argv[1:]
    sys.exit(BENCHMARKS[name](rest))
