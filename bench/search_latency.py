"""Search latency per mode at the SciFact corpus size, split into query embedding and store time."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from app.components import build_components
from bench.stats import machine, percentile
from evaluation.runner import prepare_dataset
from kernel.models import SearchMode
from kernel.settings import get_settings

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"


def run(dataset_dir: Path, split: str, n_queries: int, k: int) -> dict[str, object]:
    """Index the corpus (reused if present), then time every mode over the same queries."""
    settings = get_settings()
    components = build_components(settings)
    try:
        dataset, collection, _ = prepare_dataset(
            dataset_dir, split, store=components.search.store, ingestor=components.ingest.ingestor
        )
        queries = list(dataset.queries.values())[:n_queries]
        for text in queries[:10]:  # warm-up: first calls pay lazy initialisation
            components.search.searcher.search(text, collection=collection, k=k, mode=SearchMode.HYBRID_MMR)
        rows: dict[str, dict[str, float]] = {}
        # Interleave modes query by query so machine noise hits every mode alike.
        samples: dict[SearchMode, dict[str, list[float]]] = {
            m: {"embed": [], "store": [], "total": []} for m in SearchMode
        }
        for text in queries:
            for mode in SearchMode:
                started = time.perf_counter()
                result = components.search.searcher.search(text, collection=collection, k=k, mode=mode)
                total = (time.perf_counter() - started) * 1000
                samples[mode]["embed"].append(result.timings.embed_ms)
                samples[mode]["store"].append(result.timings.store_ms)
                samples[mode]["total"].append(total)
        for mode, parts in samples.items():
            rows[mode.value] = {
                f"{part}_{name}": round(percentile(values, q), 3)
                for part, values in parts.items()
                for name, q in (("p50", 50), ("p95", 95))
            }
        return {
            "benchmark": "search_latency",
            "points": components.search.store.count(collection),
            "documents": len(dataset.corpus),
            "queries": len(queries),
            "k": k,
            "machine": machine(),
            "modes": rows,
        }
    finally:
        components.close()


def to_markdown(report: dict[str, object]) -> str:
    """A Markdown table of the report."""
    modes = report["modes"]
    assert isinstance(modes, dict)
    lines = [
        f"Search latency, {report['points']} points ({report['documents']} SciFact documents), "
        f"{report['queries']} queries, k={report['k']}, machine {report['machine']}; ms",
        "",
        "| mode | embed p50 | embed p95 | store p50 | store p95 | total p50 | total p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, row in modes.items():
        lines.append(
            f"| {mode} | {row['embed_p50']} | {row['embed_p95']} | {row['store_p50']} | {row['store_p95']} "
            f"| {row['total_p50']} | {row['total_p95']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI of this benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--split", default="train")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    report = run(args.dataset, args.split, args.queries, args.k)
    print(to_markdown(report))
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
