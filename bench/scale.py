"""The "Throughput and scale" section of RESULTS.md, from the files issue 14's benchmarks write.

``python -m bench throughput``, ``python -m bench million``, ``python -m bench http-cost`` and
``python -m bench ingest --out bench/ingest.json`` each run alone (a minute to most of an hour); their
figures reach RESULTS.md through this section, which each of them refreshes when it writes into ``bench/``
and ``python -m bench all`` keeps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BEGIN = "<!-- scale:begin (bench/scale.py) -->"
END = "<!-- scale:end -->"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def _goal_rows(goals: list[list[Any]]) -> list[str]:
    return [f"| {g} | {m} | {'yes' if ok else '**no**'} |" for g, m, ok in goals]


def section(bench_dir: Path) -> str:
    """The section's Markdown (its markers included) from the JSON files in ``bench_dir``."""
    lines = [
        BEGIN,
        "## Throughput and scale",
        "",
        "From the latest runs of the benchmarks named below, each run alone (not from the `bench all` run above).",
        "",
    ]
    throughput = _load(bench_dir / "throughput.json")
    if throughput is not None and throughput.get("mode") == "full":
        summary = throughput["summary"]
        lines += [
            f"`python -m bench throughput` ({throughput['points']:,} chunks, hybrid, "
            f"{throughput['config']['clients']} clients, {throughput['config']['rounds']} rounds; "
            "details in THROUGHPUT.md):",
            "",
            "| goal | measured | met |",
            "|---|---|---|",
            *_goal_rows(throughput["goals"]),
            "",
            "| variant | req/s | p50 ms | p95 ms (worst round) | 1 client p50 ms |",
            "|---|---|---|---|---|",
            *[
                f"| {name} | {v['throughput_rps']} | {v['p50_ms']} | {v['p95_ms']} ({v['p95_ms_worst']}) "
                f"| {v['lone_p50_ms']} |"
                for name, v in summary["variants"].items()
            ],
            "",
        ]
    million = _load(bench_dir / "million.json")
    if million is not None and million.get("mode") == "full":
        http = million["service"]["http_ms"]
        lines += [
            f"`python -m bench million` ({million['index']['points']:,} chunks, int8, originals on disk; "
            "details in MILLION.md):",
            "",
            "| goal | measured | met |",
            "|---|---|---|",
            *_goal_rows(million["goals"]),
            "",
            "| mode | /v1/search p50 ms | p95 ms |",
            "|---|---|---|",
            *[f"| {mode} | {v['p50']} | {v['p95']} |" for mode, v in http.items()],
            "",
        ]
    ingest = _load(bench_dir / "ingest.json")
    if ingest is not None:
        low, high = ingest["ratio_mean_ci95"]
        lines += [
            f"`python -m bench ingest --reps {ingest['reps']} --out bench/ingest.json` ({ingest['texts']} chunks, "
            f"{ingest['reps']} interleaved pairs): Ingestor {ingest['ingest_chunks_per_s']} chunks/s, raw `encode` "
            f"{ingest['raw_encode_per_s']}/s; paired ratio mean {ingest['ratio_paired_mean']} "
            f"[{low}, {high}] (95% bootstrap interval), median {ingest['ratio_paired_median']}: "
            f"goal >= 0.9 with the interval above it **{'met' if low >= 0.9 else 'not met'}**.",
            "",
        ]
    cost = _load(bench_dir / "http_cost.json")
    if cost is not None and cost.get("mode") == "full":
        bm25 = cost["summary"]["bm25"]
        lines += [
            f"`python -m bench http-cost` ({cost['points']:,} chunks, one request at a time; details in HTTP_COST.md): "
            f"a lone BM25 `/v1/search` {bm25['ms']['http']['p50']} ms p50 through `http.client` against "
            f"{bm25['ms']['searcher']['p50']} ms for `Searcher.search` in-process, "
            f"+{bm25['http_over_searcher']['median']} ms paired {bm25['http_over_searcher']['ci95']}; "
            f"the store step on a thread instead of the loop would add {bm25['threads_over_http']['median']:+} ms, "
            f"`httpx` as the client {bm25['httpx_over_http']['median']:+} ms.",
            "",
        ]
    return "\n".join([*lines, END])


def refresh(bench_dir: Path) -> None:
    """Replace the section in ``bench_dir/RESULTS.md`` (appended when missing; nothing without the file)."""
    results = bench_dir / "RESULTS.md"
    if not results.is_file():
        return
    text = results.read_text(encoding="utf-8")
    new = section(bench_dir)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + new + tail
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    results.write_text(text, encoding="utf-8")
