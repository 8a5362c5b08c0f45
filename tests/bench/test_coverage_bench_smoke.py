"""Smoke test of ``python -m bench coverage`` on a tiny BEIR folder: cross-fitting, ``auto`` rows, the files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import coverage
from retrieval.coverage import load_model
from tests.fixtures_beir import TOPICS, write_beir

pytestmark = pytest.mark.slow


def _beir(root: Path) -> Path:
    corpus = [
        {"_id": f"{topic}-{n}", "title": f"{topic} {n}", "text": f"Study {n}. {text} " * (n + 1)}
        for topic, text in TOPICS.items()
        for n in (1, 2, 3)
    ]
    queries = [
        {"_id": f"{topic}-q{i}", "text": f"{text.split(' and ')[0]} ({i})"}
        for topic, text in TOPICS.items()
        for i in (1, 2)
    ]
    qrels = [(q["_id"], f"{q['_id'].split('-')[0]}-{n}", 1) for q in queries for n in (1, 2)]
    return write_beir(root, corpus, queries, qrels)


def test_bench_coverage_cross_fits_and_reports_auto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHRAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out, model = tmp_path / "out", tmp_path / "model.json"
    args = ["--dataset", str(_beir(tmp_path / "beir")), "--folds", "2", "--seeds", "0", "--out", str(out)]
    assert coverage.main([*args, "--write", str(model)]) == 0
    report = (out / "COVERAGE.md").read_text()
    for row in ("| coverage, seed 0 |", "| auto, seed 0 |", "`auto` against `near-duplicates`"):
        assert row in report, row
    body = json.loads((out / "coverage.json").read_text())
    assert set(body["base"]) == {"ndcg@10", "doc_recall@5", "alpha_ndcg@5", "alpha_ndcg@5_all"}
    assert body["auto_covered_queries"] == len(TOPICS) * 2  # every document is a chunk or two: short
    assert set(body["cross_fitted"]) == {"coverage, seed 0", "auto, seed 0"}
    (paired,) = body["auto_vs_near_duplicates"].values()
    assert paired["doc_recall@5"]["n"] == len(TOPICS) * 2  # every query has two relevant documents
    assert load_model(model).fitted_on.startswith("beir train, 8 queries")
