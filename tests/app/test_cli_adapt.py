"""``synthrag adapt`` and ``synthrag eval --adapt`` as real processes on the jargon corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adaptation import corpus
from tests.fixtures_beir import write_beir

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "synthrag"
#: Short training: these tests check the commands' contracts, the adaptation tests check its quality.
ENV = {
    "SYNTHRAG_ADAPT__EPOCHS": "1",
    "SYNTHRAG_ADAPT__LEARNING_RATE": "1.5e-4",
    "SYNTHRAG_ADAPT__BATCH_SIZE": "16",
    "SYNTHRAG_ADAPT__MIN_PAIRS": "10",
}


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV, "SYNTHRAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=900, check=False)


def _beir(root: Path) -> Path:
    queries = corpus.queries()
    docs = [{"_id": i.source_key, "title": i.document.title, "text": i.document.text} for i in corpus.items()]
    rows = [{"_id": f"q{n}", "text": q.text} for n, q in enumerate(queries)]
    return write_beir(root, docs, rows, [(f"q{n}", next(iter(q.sources)), 1) for n, q in enumerate(queries)])


def test_eval_adapt_cross_validates_base_against_adapted(tmp_path: Path) -> None:
    dataset = _beir(tmp_path / "jargon")
    data = tmp_path / "data"
    refused = _run(["eval", "--dataset", str(dataset), "--split", "train", "--adapt", "train"], data)
    assert refused.returncode == 2
    assert "--folds" in refused.stderr
    done = _run(
        ["eval", "--dataset", str(dataset), "--split", "train", "--adapt", "train", "--folds", "2", "--json",
         "--no-progress"],
        data,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    body = json.loads(done.stdout)
    assert (body["split"], body["adapt"], body["folds"]) == ("train", "train", 2)
    assert [r["mode"] for r in body["results"]] == ["dense", "hybrid", "hybrid-convex"]
    for row in body["results"]:
        assert row["base"]["n_queries"] == row["adapted"]["n_queries"] == len(corpus.queries())
        assert row["n"] == len(corpus.queries())
        assert row["delta"] == pytest.approx(row["adapted"]["ndcg@10"] - row["base"]["ndcg@10"], abs=1e-9)
    assert len(body["adaptations"]) == 2
    for report in body["adaptations"]:
        assert report["gate"]["queries"] == report["queries"]["held_apart"] > 0
        assert report["reembed_points"] == len(corpus.items())


def test_adapt_command_reports_switches_and_reverts(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for item in corpus.items():
        (docs / item.document.source).write_text(item.document.text, encoding="utf-8")
    data = tmp_path / "data"
    missing = _run(["adapt", "--collection", "nowhere", "--status"], data)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    ingested = _run(["ingest", str(docs), "--collection", "jargon", "--no-synth", "--no-progress"], data)
    assert ingested.returncode == 0, ingested.stderr[-2000:]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "blorvex Oslo", "source": "missing.txt"}\n', encoding="utf-8")
    refused = _run(["adapt", "--collection", "jargon", "--pairs", str(bad)], data)
    assert refused.returncode == 2
    assert "bad.jsonl:1" in refused.stderr and "missing.txt" in refused.stderr
    pairs = tmp_path / "pairs.jsonl"
    lines = [json.dumps({"question": q.text, "source": next(iter(q.sources))}) for q in corpus.queries()]
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    adapted = _run(
        ["adapt", "--collection", "jargon", "--pairs", str(pairs), "--no-synthetic", "--json", "--no-progress"], data
    )
    assert adapted.returncode == 0, adapted.stderr[-3000:]
    report = json.loads(adapted.stdout)
    assert report["queries"]["labelled"] == len(corpus.queries()) and report["queries"]["synthetic"] == 0
    assert report["triples"] > 0 and report["train"]["steps"] > 0
    status = json.loads(_run(["adapt", "--collection", "jargon", "--status"], data).stdout)
    assert status["last"]["version"] == report["version"]
    assert (status["active"] or {}).get("name") == (report["space"] if report["active"] else None)
    reverted = _run(["adapt", "--collection", "jargon", "--revert"], data)
    assert reverted.returncode == 0 and "base model" in reverted.stdout
    assert json.loads(_run(["adapt", "--collection", "jargon", "--status"], data).stdout)["active"] is None
