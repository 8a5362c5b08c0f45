"""Eval end to end on a small SciFact slice: index once, every mode, CLI JSON keys."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from app.cli import main
from app.components import Components
from evaluation.beir import corpus_fingerprint, load_beir
from evaluation.runner import ensure_indexed, eval_collection_name, run_queries, score
from kernel.models import SearchMode

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slice_dir(tmp_path_factory: pytest.TempPathFactory, scifact_dir: Path) -> Path:
    """20 judged queries, their relevant documents and 60 random distractors, in BEIR layout."""
    full = load_beir(scifact_dir, "train")
    rng = random.Random(7)
    query_ids = sorted(full.qrels)[:20]
    relevant = {doc for q in query_ids for doc in full.qrels[q]}
    others = rng.sample(sorted(set(full.corpus) - relevant), 60)
    folder = tmp_path_factory.mktemp("beir")
    with (folder / "corpus.jsonl").open("w") as out:
        for doc_id in sorted(relevant | set(others)):
            doc = full.corpus[doc_id]
            out.write(json.dumps({"_id": doc_id, "title": doc.title, "text": doc.text}) + "\n")
    with (folder / "queries.jsonl").open("w") as out:
        for q in query_ids:
            out.write(json.dumps({"_id": q, "text": full.queries[q]}) + "\n")
    (folder / "qrels").mkdir()
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{q}\t{d}\t{s}" for q in query_ids for d, s in full.qrels[q].items()]
    (folder / "qrels" / "train.tsv").write_text("\n".join(lines) + "\n")
    return folder


def test_index_once_then_every_mode_scores(slice_dir: Path, components: Components) -> None:
    dataset = load_beir(slice_dir, "train")
    fingerprint = corpus_fingerprint(slice_dir)
    collection = eval_collection_name(slice_dir, fingerprint)
    kwargs = {
        "collection": collection,
        "fingerprint": fingerprint,
        "store": components.search.store,
        "ingestor": components.ingest.ingestor,
    }
    assert ensure_indexed(dataset, **kwargs) is True  # type: ignore[arg-type]
    points = components.search.store.count(collection)
    assert points >= len(dataset.corpus)
    assert ensure_indexed(dataset, **kwargs) is False  # type: ignore[arg-type]
    assert components.search.store.count(collection) == points

    for mode in SearchMode:
        run = run_queries(dataset, components.search.searcher, collection=collection, mode=mode)
        assert set(run) == set(dataset.queries)
        assert all(len(r) == len(set(r)) for r in run.values())
        report = score(dataset, run)
        assert report.n_queries == 20
        # 80 documents, 20 queries: any working retriever ranks most relevant abstracts near the top.
        assert report.ndcg_at_10 > 0.5, (mode, report)
        assert report.recall_at_100 > 0.8, (mode, report)


def test_cli_eval_json(
    slice_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNTHRAG_DATA_DIR", str(tmp_path / "data"))
    assert main(["eval", "--dataset", str(slice_dir), "--split", "train", "--mode", "hybrid", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"ndcg@10", "recall@10", "recall@100", "mrr@10", "n_queries", "mode"}
    assert report["mode"] == "hybrid"
    assert report["n_queries"] == 20


def test_cli_eval_unknown_split_is_a_clear_error(slice_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--dataset", str(slice_dir), "--split", "test"]) == 2
    assert "train" in capsys.readouterr().err


def test_cli_eval_synthetic_reports_paired_deltas_and_calibrate_records_a_profile(
    slice_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 6-document sample, its raw top-2 chunks synthesized by the bundled teacher; later runs reuse it all."""
    monkeypatch.setenv("SYNTHRAG_DATA_DIR", str(tmp_path / "data"))
    sample = [
        "--dataset",
        str(slice_dir),
        "--split",
        "train",
        "--sample-docs",
        "6",
        "--seed",
        "3",
        "--synth-top-n",
        "2",
    ]
    assert main(["eval", *sample, "--synthetic", "--mode", "hybrid", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["teacher"].startswith("llama-cpp:SmolLM2")
    assert report["sample"].startswith(f"{slice_dir.name} train: 6 documents")
    [row] = report["results"]
    assert row["mode"] == "hybrid" and set(row["raw"]) == set(row["synthetic"])
    assert 0 < row["raw"]["n_queries"] == row["synthetic"]["n_queries"] < 20
    for paired in (row, row["rerank"], row["expansion"]):
        low, high = paired["delta_ci"]
        assert low <= paired["delta"] <= high
        assert paired["wins"] + paired["ties"] + paired["losses"] == row["raw"]["n_queries"]
    # The bundled profile's strengths are 0: the default is exactly raw.
    assert (row["delta"], row["delta_ci"], row["losses"]) == (0.0, [0.0, 0.0], 0)
    counts = report["synthesis"]
    assert counts["chunks"] > 0 and counts["generated"] == counts["kept"] + sum(counts["dropped"].values())

    profile_file = tmp_path / "profile.json"
    assert main(["calibrate", *sample, "--write-profile", str(profile_file)]) == 0  # nothing generated again
    captured = capsys.readouterr()
    assert "reusing index" in captured.err
    assert "held" in captured.out and "profile: lambda" in captured.out
    profile = json.loads(profile_file.read_text())
    assert profile["teacher"].startswith("llama-cpp:SmolLM2") and profile["calibration"]["queries"] > 0

    assert main(["eval", *sample, "--synthetic"]) == 0  # a text table over every mode
    lines = capsys.readouterr().out.splitlines()
    assert "teacher llama-cpp:SmolLM2" in lines[0]
    assert [line.split()[0] for line in lines[3:7]] == ["bm25", "dense", "hybrid", "hybrid-mmr"]
    assert lines[7].startswith("synthesis:") and "kept" in lines[7]
