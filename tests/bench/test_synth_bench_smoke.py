"""Smoke test of the teacher-throughput benchmark: old and new path on two chunks, report shape only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import synth_throughput

pytestmark = pytest.mark.slow


def test_synth_bench_reports_old_and_new_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scifact_dir: Path
) -> None:
    assert scifact_dir == synth_throughput.SCIFACT  # the benchmark reads the same shared copy
    out = tmp_path / "synth.json"
    assert synth_throughput.main(["--smoke", "--json-out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["benchmark"] == "synth_throughput" and report["chunks"] == 2
    for path in synth_throughput.PATHS:
        assert report["chunks_per_s"][path] > 0
        assert 0.0 <= report["quality"][path]["kept_rate"] <= 1.0
    assert report["new_vs_old_chunks_per_s"] > 0
    # The old path runs the file as stored; the new ones run the teacher's default settings.
    models = report["models"]
    assert not models[synth_throughput.OLD].endswith(":flash")
    assert models[synth_throughput.NEW] == models[synth_throughput.WIDE]
    assert models[synth_throughput.NEW].endswith(":flash")
    paired = report["kept_per_chunk_new_minus_old"]
    assert paired["n"] == 2 and paired["ci95"][0] <= paired["mean"] <= paired["ci95"][1]
    assert "new / old chunks/s" in capsys.readouterr().out
