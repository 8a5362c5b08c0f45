"""Smoke tests of ``python -m bench throughput --smoke`` and ``python -m bench million --smoke``: real
``synthrag serve`` processes on tiny indexes, report shape and sanity (the numbers come from full runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import http_cost, million, throughput


@pytest.mark.slow
def test_throughput_smoke_compares_batched_and_unbatched(tmp_path: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    assert throughput.main(["--smoke", "--out", str(out), "--work", str(work)]) == 0
    results = json.loads((out / "throughput.json").read_text())
    assert results["mode"] == "smoke" and results["points"] == throughput.SMOKE["chunks"]
    (row,) = results["rounds"]
    assert set(row) == set(throughput.VARIANTS)
    for variant in throughput.VARIANTS:
        many, lone = row[variant]["many"], row[variant]["lone"]
        assert many["clients"] == throughput.SMOKE["clients"] and lone["clients"] == 1
        assert many["requests"] > 0 and many["errors"] == 0 and lone["errors"] == 0
        assert many["p95_ms"] >= many["p50_ms"] > 0
    summary = results["summary"]
    assert summary["throughput_ratio_median"] > 0
    assert results["goals"][0][0].startswith(f"{throughput.SMOKE['clients']} clients")
    assert "| batched |" in (out / "THROUGHPUT.md").read_text()
    # A second run reuses the index (the marker file) instead of loading it again.
    assert throughput.ensure_index(work, throughput.SMOKE["chunks"]) == work / f"data-{throughput.SMOKE['chunks']}"


@pytest.mark.slow
def test_million_smoke_builds_a_quantized_index_and_serves_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert million.main(["--smoke", "--out", str(out), "--work", str(tmp_path / "work")]) == 0
    results = json.loads((out / "million.json").read_text())
    index, service = results["index"], results["service"]
    assert index["points"] == million.SMOKE["chunks"]
    assert index["disk_mb"] > 0 and index["load_s"] > 0
    assert 0.9 <= index["recall"]["recall_at_10"] <= 1.0
    for mode in ("hybrid", "dense", "bm25"):
        assert service["http_ms"][mode]["p95"] >= service["http_ms"][mode]["p50"] > 0
    assert 100 < service["rss_peak_mb"] < 4096
    shard = tmp_path / "work" / f"million-{million.SMOKE['chunks']}" / "qdrant-edge" / million.COLLECTION
    assert "int8" in (shard / "edge_config.json").read_text().lower()


@pytest.mark.slow
def test_http_cost_smoke_times_every_path_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert http_cost.main(["--smoke", "--out", str(out), "--work", str(tmp_path / "work")]) == 0
    results = json.loads((out / "http_cost.json").read_text())
    assert results["points"] == http_cost.SMOKE["chunks"]
    for mode in ("bm25", "hybrid"):
        summary = results["summary"][mode]
        for path in http_cost.PATHS:
            assert summary["ms"][path]["p95"] >= summary["ms"][path]["p50"] > 0
        low, high = summary["http_over_searcher"]["ci95"]
        assert low <= summary["http_over_searcher"]["median"] <= high
    assert "| bm25 |" in (out / "HTTP_COST.md").read_text()


def test_mixed_corpus_is_deterministic_and_normalized() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    mixed = million.MixedCorpus([f"t{i}" for i in range(5)], vectors, 20)
    assert mixed.text(3) == "t3" and np.allclose(mixed.vector(3), vectors[3])
    a, b, w = mixed.recipe(12)
    assert mixed.text(12) == f"t{a} t{b}" and 0.3 <= w <= 0.7
    assert abs(float(np.linalg.norm(mixed.vector(12))) - 1.0) < 1e-5
    assert mixed.text(12) == million.MixedCorpus([f"t{i}" for i in range(5)], vectors, 20).text(12)
    assert len(list(mixed.items())) == 20
