"""``python -m bench tables``: every sample table in every format, before and after, as a table or JSON."""

from __future__ import annotations

import json

import pytest

from bench import tables


def test_every_table_keeps_its_labels_in_every_format() -> None:
    results = tables.measure()
    assert {(r["table"], r["format"]) for r in results} == {
        (s.name, fmt) for s in tables.samples() for fmt in tables.FORMATS
    }
    assert all(r["before"] == 0.0 and r["after"] == 1.0 for r in results), results


def test_main_prints_markdown_or_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert tables.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| table | format |") and "| all | pdf | 69 | 0.00 | 1.00 |" in out
    assert tables.main(["--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 12
