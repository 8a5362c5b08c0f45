"""RESULTS.md's "Throughput and scale" section: built from the benchmarks' JSON files, replaced in place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench import scale

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_refresh_writes_the_section_once_and_replaces_it(tmp_path: Path) -> None:
    for name in ("throughput.json", "million.json", "ingest.json"):
        shutil.copy(BENCH / name, tmp_path / name)
    (tmp_path / "RESULTS.md").write_text("# Benchmark results\n\nbody\n", encoding="utf-8")
    scale.refresh(tmp_path)
    first = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert first.startswith("# Benchmark results\n\nbody\n") and first.count(scale.BEGIN) == 1
    ingest = json.loads((tmp_path / "ingest.json").read_text(encoding="utf-8"))
    assert f"{ingest['ratio_paired_mean']} [{ingest['ratio_mean_ci95'][0]}, " in first
    ingest["ratio_paired_mean"] = 0.5
    (tmp_path / "ingest.json").write_text(json.dumps(ingest), encoding="utf-8")
    scale.refresh(tmp_path)
    second = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert second.count(scale.BEGIN) == 1 and "paired ratio mean 0.5 [" in second
    assert second.split(scale.BEGIN)[0] == first.split(scale.BEGIN)[0]


def test_section_leaves_out_what_has_no_full_run(tmp_path: Path) -> None:
    text = scale.section(tmp_path)
    assert text.startswith(scale.BEGIN) and text.endswith(scale.END)
    assert "bench throughput" not in text and "bench million" not in text
    scale.refresh(tmp_path)  # no RESULTS.md: nothing is created
    assert not (tmp_path / "RESULTS.md").exists()
