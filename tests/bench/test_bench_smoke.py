"""Smoke test of ``python -m bench all --smoke``: the whole suite on a tiny index, report shape and sanity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run_all

SECTIONS = (
    "## Goals",
    "## Search latency",
    "## HNSW recall@10",
    "## Ingest throughput",
    "## Load",
    "## Memory",
    "## Generation",
)


@pytest.mark.slow
def test_bench_all_smoke_writes_every_section(tmp_path: Path) -> None:
    assert run_all.main(["--smoke", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")]) == 0
    text = (tmp_path / "out" / "RESULTS.md").read_text()
    for section in SECTIONS:
        assert section in text, section
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["mode"] == "smoke" and results["machine"]["cores"] >= 1
    (tier,) = results["tiers"].values()
    assert tier["points"] == run_all.SMOKE["tiers"][0]
    for mode in ("bm25", "dense", "hybrid", "hybrid-mmr"):
        assert tier["searcher"][mode]["total"]["p95"] >= tier["searcher"][mode]["total"]["p50"] > 0
        assert tier["http_vs_raw"][mode]["ratio_paired_median"] > 0
    assert 0.5 <= tier["recall"]["rows"]["default"]["recall"] <= 1.0
    assert tier["ingest"]["ingest_chunks_per_s"] > 0 and tier["ingest"]["raw_encode_per_s"] > 0
    service = results["service"]
    assert service["search_load"]["requests"] > 0 and service["search_load"]["errors"] == 0
    chat = service["chat_load"]
    assert chat["ok_200"] >= 1 and chat["timeouts"] == 0 and chat["errors"] == 0
    assert chat["busy_429"] == chat["retry_after_present"]
    assert 100 < service["rss_idle_mb"] < 4096
    assert results["generation"]["service"]["tokens_per_s"] > 0
