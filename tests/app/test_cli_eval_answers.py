"""``synthrag eval-answers`` as a real process: real files, the bundled models, every answer mode on the same plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_docs import make_pdf

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "synthrag"
FACTS = {
    "Q1 2023": "In Q1 2023 Acme's product revenue was $394 million, up 84% year on year.",
    "Q2 2023": "In Q2 2023 Acme's product revenue was $466 million, up 83% year on year.",
}
REMARKS = " ".join(f"Remark {i}: the call covers results, guidance and the outlook." for i in range(12))


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNTHRAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=900, check=False)


def _answer_set(root: Path, *, with_answers: bool = True) -> Path:
    docs = root / "docs"
    docs.mkdir(parents=True)
    lines = []
    for quarter, fact in FACTS.items():
        name = f"{quarter} Acme Inc. Earnings Call.pdf"
        (docs / name).write_bytes(make_pdf([f"{quarter} Acme Inc. Earnings Call\n\n{REMARKS}", fact]))
        record = {"question": f"What was Acme's product revenue in {quarter}?", "source_docs": [name]}
        if with_answers:
            record["answer"] = fact + "\n\nSource: the call"
        lines.append(json.dumps(record))  # no "_id": the line number names the question
    (root / "queries.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_every_mode_is_measured_on_the_same_questions(tmp_path: Path) -> None:
    details = tmp_path / "details.jsonl"
    dataset = _answer_set(tmp_path / "set")
    args = ["eval-answers", "--dataset", str(dataset), "--details", str(details), "--json"]
    done = _run(args, tmp_path / "data")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["questions"] == 2
    rows = {row["mode"]: row for row in report["results"]}
    assert list(rows) == ["generated", "extractive", "combined"]
    extractive = rows["extractive"]
    # The quotes are the sources' own sentences: both facts are found, every cited span supports them.
    assert extractive["key_fact_recall"] == 1.0
    assert extractive["citation_precision"] == 1.0
    assert extractive["stop_reasons"] is None
    assert extractive["shown_extractive"] == 2
    for row in rows.values():
        assert row["repetition_rate"] == 0.0
        assert row["median_latency_s"] > 0
    generated = rows["generated"]
    assert sum(generated["stop_reasons"].values()) == 2
    assert set(rows["combined"]["vs_first"]) == {"key_fact_recall", "token_f1"}
    assert "vs_first" not in generated
    written = [json.loads(line) for line in details.read_text().splitlines()]
    assert len(written) == 6
    quotes = [q for r in written if r["mode"] == "extractive" for q in r["quotes"]]
    text = "\n".join(FACTS.values())
    assert quotes and all(" ".join(q.split()) in text for q in quotes)  # exact spans of the documents


def test_errors_are_clear_and_exit_2(tmp_path: Path) -> None:
    dataset = _answer_set(tmp_path / "set", with_answers=False)
    done = _run(["eval-answers", "--dataset", str(dataset)], tmp_path / "data")
    assert done.returncode == 2
    assert "no question has a reference answer" in done.stderr
    done = _run(["eval-answers", "--dataset", str(dataset), "--modes", "generated,poetic"], tmp_path / "data")
    assert done.returncode == 2
    assert "unknown answer mode 'poetic'" in done.stderr
