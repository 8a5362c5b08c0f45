"""``synthrag eval --diversity`` as a real process on a tiny BEIR folder written here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_beir import write_beir

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "synthrag"
TOPICS = {
    "bees": "Honey bee colonies store nectar as honey in wax combs and the workers guard the hive entrance.",
    "volcano": "Volcanic eruptions send lava flows and ash clouds over the slopes around the crater rim.",
    "chess": "Chess openings develop the knights and bishops early and fight for the centre of the board.",
}


def _long(topic: str, n: int) -> str:
    # About 400 word pieces: two or three chunks of one document on one topic.
    return " ".join(f"Note {i} of study {n}: {TOPICS[topic]}" for i in range(18))


def _beir(root: Path) -> Path:
    corpus = [
        {"_id": f"{topic}-{n}", "title": f"{topic} {n}", "text": _long(topic, n)} for topic in TOPICS for n in (1, 2)
    ]
    corpus += [{"_id": f"short-{topic}", "title": topic, "text": TOPICS[topic]} for topic in TOPICS]
    queries = [
        {"_id": "q1", "text": "honey bee colonies and their hive"},
        {"_id": "q2", "text": "lava flows from volcanic eruptions"},
        {"_id": "q3", "text": "chess openings for the centre"},
    ]
    qrels = (
        [("q1", f"bees-{n}", 1) for n in (1, 2)] + [("q2", f"volcano-{n}", 1) for n in (1, 2)] + [("q3", "chess-1", 1)]
    )
    return write_beir(root, corpus, queries, qrels)


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNTHRAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=600, check=False)


def test_diversity_reports_every_method_against_the_mode(tmp_path: Path) -> None:
    dataset = _beir(tmp_path / "beir")
    args = ["eval", "--dataset", str(dataset), "--split", "train", "--mode", "hybrid", "--diversity"]
    done = _run([*args, "--json"], tmp_path / "data")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # Today's keys stay, for the baseline mode; the comparison comes beside them.
    assert {"ndcg@10", "recall@10", "recall@100", "mrr@10", "n_queries", "mode"} <= set(report)
    assert report["mode"] == "hybrid"
    assert report["n_queries"] == 3
    diversity = report["diversity"]
    assert (diversity["queries"], diversity["multi_relevant_queries"], diversity["answer_k"]) == (3, 2, 4)
    methods = {m["method"]: m for m in diversity["methods"]}
    assert list(methods) == [
        "hybrid",
        "hybrid-mmr",
        "hybrid + per-document",
        "hybrid + near-duplicates",
        "hybrid + coverage",
        "hybrid + auto",
    ]
    base = methods["hybrid"]
    assert base["ndcg@10"]["mean"] == pytest.approx(report["ndcg@10"])
    assert base["doc_recall@5"]["vs_base"] == {
        "delta": 0.0,
        "delta_ci": [0.0, 0.0],
        "wins": 0,
        "ties": 2,
        "losses": 0,
        "n": 2,
    }
    per_document = methods["hybrid + per-document"]
    # A document's best chunk never moves: the documents' order, so nDCG@10, is the plain mode's.
    assert per_document["ndcg@10"]["vs_base"]["delta"] == 0.0
    assert per_document["ndcg@10"]["vs_base"]["ties"] == 3
    # Two long relevant documents per multi-relevant query: at most one chunk each lets both into the top 5.
    assert per_document["doc_recall@5"]["mean"] == 1.0
    assert per_document["doc_recall@5"]["vs_base"]["losses"] == 0
    for measure in ("ndcg@10", "doc_recall@5", "alpha_ndcg@5", "alpha_ndcg@5_all", "near_duplicates@4"):
        assert set(per_document[measure]["vs_base"]) == {"delta", "delta_ci", "wins", "ties", "losses", "n"}

    text = _run(args, tmp_path / "data")  # the index is reused
    assert text.returncode == 0, text.stderr
    assert "reusing index" in text.stderr
    assert "3 judged queries, 2 with several relevant documents" in text.stdout
    assert "hybrid + per-document" in text.stdout
    assert "doc recall@5 (2 multi-relevant)" in text.stdout


def test_diversity_and_synthetic_are_separate_runs(tmp_path: Path) -> None:
    dataset = _beir(tmp_path / "beir")
    done = _run(["eval", "--dataset", str(dataset), "--split", "train", "--diversity", "--synthetic"], tmp_path / "d")
    assert done.returncode == 2
    assert "--diversity and --synthetic are separate runs" in done.stderr
