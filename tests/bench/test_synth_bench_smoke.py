"""Smoke test of the teacher-throughput benchmark: one chunk each way, report shape only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import synth_throughput

pytestmark = pytest.mark.slow


def test_synth_bench_reports_adapter_and_raw_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scifact_dir: Path
) -> None:
    assert scifact_dir == synth_throughput.SCIFACT  # the benchmark reads the same shared copy
    out = tmp_path / "synth.json"
    assert synth_throughput.main(["--chunks", "1", "--json-out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["benchmark"] == "synth_throughput" and report["chunks"] == 1
    for path in ("adapter", "raw"):
        assert report["tokens_per_s_median"][path] > 0
        assert report["seconds_per_chunk_mean"][path] > 0
    assert report["adapter_vs_raw_paired_median"] > 0
    assert "| adapter |" in capsys.readouterr().out
