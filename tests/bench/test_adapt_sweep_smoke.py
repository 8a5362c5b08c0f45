"""Smoke test of the adaptation recipe sweep: ``bench adapt-bundle`` on a tiny BEIR folder, then ``adapt-sweep``.

The sweep scores searches offline (its own RRF, convex fusion and nDCG over the bundle's candidates); its
numbers are only worth anything if they are the production path's, so the reference row (the production
dense candidates fused offline) must equal ``synthrag eval``'s own per-query scores, and the base row (every
chunk re-encoded by the sweep) must equal the reference.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from app.components import build_configured
from bench import adapt_bundle, adapt_sweep
from evaluation.paired import per_query_ndcg
from evaluation.runner import prepare_dataset, run_queries
from kernel.models import SearchMode
from kernel.settings import get_settings
from tests.fixtures_beir import TOPICS as SENTENCES
from tests.fixtures_beir import write_beir

pytestmark = pytest.mark.slow

TOPICS = {
    **SENTENCES,
    "tides": "Ocean tides follow the pull of the moon and the sun on the water of the open sea.",
}


def _beir(root: Path) -> Path:
    corpus = [
        {"_id": f"{topic}-{n}", "title": topic, "text": f"{text} " * n}
        for topic, text in TOPICS.items()
        for n in (1, 2, 3)
    ]
    queries = [  # word spans of the topic's sentence: no digits, so no BM25 score ties on a shared number
        {"_id": f"{topic}-q{i}", "text": " ".join(text.lower().split()[2 * i : 2 * i + 5])}
        for topic, text in TOPICS.items()
        for i in (1, 2, 3, 4)
    ]
    qrels = [(q["_id"], f"{q['_id'].split('-')[0]}-{1 + int(q['_id'][-1]) % 3}", 1) for q in queries]
    return write_beir(root, corpus, queries, qrels)


def _production(dataset_dir: Path, depth: int) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """``synthrag eval``'s dense nDCG@10 per query, and each query's hybrid hits' RRF scores (``depth`` deep)."""
    components = build_configured(get_settings(), answers=False, synthesis=False)
    searcher = components.search.searcher
    try:
        dataset, collection, _ = prepare_dataset(
            dataset_dir, "train", store=components.search.store, ingestor=components.ingest.ingestor
        )
        dense = per_query_ndcg(
            run_queries(dataset, searcher, collection=collection, mode=SearchMode.DENSE), dataset.qrels
        )
        fused = {
            qid: {
                hit.id: hit.score
                for hit in searcher.search(
                    dataset.queries[qid], collection=collection, k=depth, mode=SearchMode.HYBRID, synthetic=False
                ).hits
            }
            for qid in dataset.qrels
        }
        return dense, fused
    finally:
        components.close()


def test_bundle_then_sweep_reproduce_the_production_scores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHRAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    dataset_dir = _beir(tmp_path / "beir")
    bundle = tmp_path / "bundle"
    assert adapt_bundle.main(["--out", str(bundle), "--dataset", str(dataset_dir), "--folds", "2"]) == 0
    with gzip.open(bundle / "data.json.gz", "rt") as handle:
        data = json.load(handle)
    assert len(data["queries"]) == len(TOPICS) * 4
    assert len(data["plan"]) == 2
    for fold in data["plan"]:
        assert not set(fold["eval"]) & set(fold["train"] + fold["held"])  # never trained on what is evaluated
        assert fold["held"]
    assert all(m["pos"] for m in data["mine"].values())

    out = tmp_path / "sweep.jsonl"
    assert adapt_sweep.main([str(bundle), str(out), "--recipes", '[{"epochs": 1, "bs": 4}]']) == 0
    reference, base, row = (json.loads(line) for line in out.read_text().splitlines())
    dense, fused = _production(dataset_dir, data["prefetch"])
    assert reference["dense"] == pytest.approx(sum(dense.values()) / len(dense), abs=1e-4)
    sweep = adapt_sweep.load_bundle(bundle)
    for qid, hits in fused.items():  # the offline fusion scores every hit as the store did (ties aside)
        offline = adapt_sweep.rrf_scores(
            [[p for p, _ in sweep.dense_base[qid]], [p for p, _ in sweep.bm25[qid]]], data["rrf_k"]
        )
        assert {pid: offline[pid] for pid in hits} == pytest.approx(hits, abs=1e-6), qid
    for mode in ("dense", "hybrid", "convex"):
        assert base[mode] == pytest.approx(reference[mode], abs=1e-4), mode  # re-encoded here = stored vectors
    assert row["recipe"] == {"epochs": 1, "lr": 5e-5, "bs": 4, "negs": 1}
    assert set(row) >= {"dense", "hybrid", "convex", "gates", "passed"}
    assert len(row["gates"]) == 2
    for mode in ("dense", "hybrid", "convex"):
        low, mean, high = row[mode]["delta"][1], row[mode]["delta"][0], row[mode]["delta"][2]
        assert low <= mean <= high
        assert row[mode]["adapted"] == pytest.approx(row[mode]["base"] + mean, abs=1e-3)
