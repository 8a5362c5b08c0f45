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
    for path in (synth_throughput.OLD, synth_throughput.NEW):
        assert report["chunks_per_s"][path] > 0
        assert 0.0 <= report["quality"][path]["kept_rate"] <= 1.0
    assert report["new_vs_old_chunks_per_s"] > 0
    assert "new / old chunks/s" in capsys.readouterr().out
