"""Smoke test of the answer-latency benchmark: one tiny run end to end, report shape only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import answer_latency


@pytest.mark.slow
def test_answer_bench_reports_positive_medians(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "answer.json"
    assert answer_latency.main(["--reps", "1", "--max-tokens", "8", "--json-out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["benchmark"] == "answer_latency"
    assert report["reps"] == 1 and report["max_tokens"] == 8
    for path in ("service", "raw"):
        row = report[path]
        assert set(row) == {"ttft_ms", "total_ms", "tokens_per_s", "chunks"}
        assert all(value > 0 for value in row.values()), (path, row)
        assert row["total_ms"] >= row["ttft_ms"]
        assert row["chunks"] <= 8
    assert all(ms > 0 for ms in report["retrieval"].values())
    over = report["overhead"]
    assert set(over) == {
        "ttft_ratio",
        "tokens_per_s_pct",
        "ttft_ratio_paired",
        "tokens_per_s_pct_paired",
        "ttft_extra_ms_paired",
        "ttft_extra_ms_paired_p25_p75",
        "ttft_extra_minus_plan_ms",
    }
    assert over["ttft_ratio"] > 0 and over["ttft_ratio_paired"] > 0
    assert all(n > 0 for n in report["prompt_tokens"].values())
    assert "| service /v1/chat/completions |" in capsys.readouterr().out
