"""Smoke test of ``python -m bench hostile --smoke``: every hostile input is dealt with, the service stays up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import hostile


@pytest.mark.slow
def test_hostile_smoke_reports_every_attack_and_the_service_survives(tmp_path: Path) -> None:
    assert hostile.main(["--smoke", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "hostile.json").read_text())
    assert results["smoke"] is True and results["alive_after"] is True
    rows = {row["attack"]: row for row in results["rows"]}
    assert len(rows) == len(hostile.attacks(smoke=True))
    for row in rows.values():
        assert row["polls"] > 0 and row["max_ms"] >= row["p99_ms"] >= row["p50_ms"] > 0
        assert "still" not in row["outcome"], row  # every job ended, none left running
    assert rows["400 MB body, no key (/v1/search)"]["outcome"].startswith(("401", "connection closed"))
    assert rows["DOCX, 200 MB of XML in 200 KB"]["outcome"].startswith(("422", "202, job failed"))
    assert "other tenant's answer: 200" in rows["stream opened and never read (chat)"]["outcome"]
    assert "| attack | outcome |" in (tmp_path / "HOSTILE.md").read_text()
