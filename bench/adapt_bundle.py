"""Write the bundle ``bench/adapt_sweep.py`` runs on: an indexed BEIR split's chunks, judgements, folds, candidates.

``python -m bench adapt-bundle --out DIR [--dataset DIR] [--split S] [--folds N] [--sample-docs N] [--half]``

The split is indexed once (reused, as ``synthrag eval`` does). The bundle holds every chunk (id, document,
text), the judged queries and their qrels, each query's BM25 and base dense candidates
(``SYNTHRAG_PREFETCH_LIMIT`` deep, with scores), the training triple material of ``adaptation.mining``
(the best-ranked relevant chunk of the base hybrid ranking and the non-relevant hits below the top 2), the
folds of ``synthrag eval --adapt --folds`` and, per fold, the gate's seeded split of the training queries.
The bundled model is copied beside it; ``--half`` stores its weights as float16 (45 MB instead of 90, to
carry it to another machine; the sweep computes in float32).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

from adaptation.mining import by_document, candidates, rank_base
from adaptation.pairs import Passage, from_qrels, read_passages, split_queries
from app.commands.evaluate_adapt import folds_of
from app.components import build_configured
from evaluation.beir import BeirDataset
from evaluation.runner import prepare_dataset
from kernel.models import Diversity, SearchMode
from kernel.payload import DENSE_VECTOR
from kernel.settings import Settings, get_settings
from retrieval.embedding import bundled_model_path
from retrieval.search import Searcher

HERE = Path(__file__).resolve().parent
SCIFACT = HERE.parents[1] / "shared" / "eval" / "scifact"


def _candidates(searcher: Searcher, collection: str, text: str, mode: SearchMode, depth: int) -> list[list[object]]:
    result = searcher.search(
        text, collection=collection, k=depth, mode=mode, synthetic=False, diversity=Diversity.NONE, space=DENSE_VECTOR
    )
    return [[hit.id, hit.score] for hit in result.hits]


def collect(args: argparse.Namespace, settings: Settings) -> dict[str, object]:
    """Index the split (reused), then everything the sweep needs, as JSON-ready data."""
    components = build_configured(settings, answers=False, synthesis=False)
    searcher = components.search.searcher
    depth = settings.prefetch_limit
    try:
        dataset, collection, _ = prepare_dataset(
            args.dataset, args.split, store=components.search.store, ingestor=components.ingest.ingestor,
            sample_docs=args.sample_docs,
        )  # fmt: skip
        passages = read_passages(components.search.store, collection)
        judged = sorted(q for q in dataset.qrels if q in dataset.queries)
        labelled = {q.text: q for q in from_qrels(dataset.queries, dataset.qrels, passages)}
        by_source = by_document(passages)
        bm25, dense, mine = {}, {}, {}
        for qid in judged:
            text = dataset.queries[qid]
            bm25[qid] = _candidates(searcher, collection, text, SearchMode.BM25, depth)
            dense[qid] = _candidates(searcher, collection, text, SearchMode.DENSE, depth)
            query = labelled.get(text.strip())
            if query is not None:
                ranking = rank_base(searcher, collection, text, settings.adapt.negative_depth)
                positive, negatives = candidates(query, ranking, passages, by_source)
                mine[qid] = {"pos": positive.id if positive is not None else None, "negs": negatives}
    finally:
        components.close()
    return {
        "chunks": [[pid, p.source, p.text] for pid, p in sorted(passages.items())],
        "queries": {q: dataset.queries[q] for q in judged},
        "qrels": {q: dict(dataset.qrels[q]) for q in judged},
        "bm25": bm25,
        "dense_base": dense,
        "mine": mine,
        "plan": _plan(dataset, judged, passages, args.folds, settings),
        "rrf_k": settings.rrf_k,
        "prefetch": depth,
    }


def _plan(
    dataset: BeirDataset, judged: list[str], passages: dict[str, Passage], folds: int, settings: Settings
) -> list[dict[str, list[str]]]:
    """Per fold: evaluated ids, training ids and the gate's held-apart ids, as ``eval --adapt --folds`` cuts them."""
    by_text = {dataset.queries[q].strip(): q for q in judged}
    plan = []
    for fold in folds_of(judged, folds, 0):
        train_ids = sorted(set(judged) - set(fold))
        labelled = from_qrels(
            {q: dataset.queries[q] for q in train_ids}, {q: dataset.qrels[q] for q in train_ids}, passages
        )
        train, held = split_queries(labelled, held_apart=settings.adapt.held_apart, seed=settings.adapt.seed)
        plan.append({
            "eval": fold,
            "train": [by_text[q.text.strip()] for q in train],
            "held": [by_text[q.text.strip()] for q in held],
        })  # fmt: skip
    return plan


def copy_model(out: Path, *, half: bool) -> None:
    """The bundled model beside the data (float16 weights with ``half``)."""
    target = out / "model"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(bundled_model_path(), target)
    if half:
        from safetensors.torch import load_file, save_file

        weights = load_file(str(target / "model.safetensors"))
        save_file({k: v.half() for k, v in weights.items()}, str(target / "model.safetensors"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench adapt-bundle", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--split", default="train")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--sample-docs", type=int, default=None)
    parser.add_argument("--half", action="store_true")
    args = parser.parse_args(argv)
    data = collect(args, get_settings())
    args.out.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out / "data.json.gz", "wt", encoding="utf-8") as handle:
        json.dump(data, handle)
    copy_model(args.out, half=args.half)
    print(f"bundle in {args.out}: {len(data['chunks'])} chunks, {len(data['queries'])} queries")  # type: ignore[arg-type]
    return 0
