"""Coverage diversification and ``auto`` on unseen queries: cross-fitted on a BEIR split, against plain hybrid.

Each judged query is searched once as ``diversity: coverage`` searches (:func:`evaluation.coverage_fit.collect`);
then for every fold a model is fitted on the other folds' queries and orders this fold's hits, so each
number is for queries the model never saw. Reported against plain hybrid with paired 95% bootstrap intervals:
nDCG@10 over every judged query (documents collapsed, as ``synthrag eval``), and on queries with several
relevant documents document recall@5 and alpha-nDCG@5 over the top hits (as ``synthrag eval --diversity``).
``--write FILE`` also fits one model on every query and writes it (the bundled
``retrieval/models/coverage.json`` is this, on SciFact train). Tune on train, never on test.

``python -m bench coverage [--dataset DIR] [--split S] [--folds 5] [--seeds 0,1,2] [--sample-docs N] [--write FILE]``;
writes ``bench/COVERAGE.md`` and ``bench/coverage.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.components import build_configured
from evaluation.coverage_fit import QueryRows, automatic, collect, cross_fitted, design, model_from
from evaluation.diversity import alpha_ndcg_at_k, doc_recall_at_k, multi_relevant
from evaluation.diversity_run import HIT_K
from evaluation.paired import PairedComparison, paired_comparison, per_query_ndcg
from evaluation.runner import collapse, prepare_dataset
from kernel.models import Diversity, Hit
from kernel.settings import Settings, get_settings
from retrieval.coverage import auto_method, load_model
from retrieval.diversity import DiversityParams, diversify

HERE = Path(__file__).resolve().parent
SCIFACT = HERE.parents[1] / "shared" / "eval" / "scifact"


def measures(runs: dict[str, list[Hit]], qrels: dict[str, dict[str, int]]) -> dict[str, dict[str, float]]:
    """Per-query nDCG@10 (every judged query), doc recall@5 and alpha-nDCG@5 (multi-relevant queries), alpha-nDCG@5
    (every judged query)."""
    judged = {qid: qrels[qid] for qid in runs}
    multi = multi_relevant(judged)
    top = {qid: [h.source for h in hits[:HIT_K]] for qid, hits in runs.items()}
    return {
        "ndcg@10": per_query_ndcg({qid: collapse(hits) for qid, hits in runs.items()}, judged),
        "doc_recall@5": {qid: doc_recall_at_k(top[qid], judged[qid], HIT_K) for qid in multi},
        "alpha_ndcg@5": {qid: alpha_ndcg_at_k(top[qid], judged[qid], HIT_K) for qid in multi},
        "alpha_ndcg@5_all": {qid: alpha_ndcg_at_k(top[qid], judged[qid], HIT_K) for qid in runs},
    }


def _cell(c: PairedComparison) -> str:
    low, high = c.delta_ci
    return f"{c.other_mean:.4f}, {c.delta:+.4f} [{low:+.4f}, {high:+.4f}] {c.wins}/{c.ties}/{c.losses}"


def _report(
    args: argparse.Namespace,
    settings: Settings,
    rows: dict[str, QueryRows],
    base: dict[str, dict[str, float]],
    results: dict[str, dict[str, PairedComparison]],
    *,
    against: dict[str, dict[str, PairedComparison]],
    decay: float,
) -> None:
    """Print and write ``COVERAGE.md`` and ``coverage.json`` under ``args.out``."""
    long_document = settings.diversity_long_document
    covering = sum(
        auto_method(r.hits[: settings.diversity_candidates], long_document=long_document) is Diversity.COVERAGE
        for r in rows.values()
    )
    command = f"python -m bench coverage --split {args.split} --folds {args.folds} --seeds {args.seeds}"
    if args.sample_docs:
        command += f" --sample-docs {args.sample_docs}"
    n_multi = len(base["doc_recall@5"])
    mean = {name: sum(v.values()) / len(v) for name, v in base.items()}
    lines = [
        f"# Coverage diversification on unseen queries ({args.dataset.name} {args.split}, {len(rows)} queries, "
        f"{n_multi} with several relevant documents, {args.folds}-fold cross-fitting, decay {decay:g})",
        "",
        f"`{command}`",
        "",
        f"Plain hybrid: nDCG@10 {mean['ndcg@10']:.4f}, doc recall@5 {mean['doc_recall@5']:.4f}, "
        f"alpha-nDCG@5 {mean['alpha_ndcg@5']:.4f}.",
        "",
        "| method, folds | nDCG@10 (all) | doc recall@5 (multi) | alpha-nDCG@5 (multi) | alpha-nDCG@5 (all) |",
        "|---|---|---|---|---|",
        *(f"| {key} | " + " | ".join(_cell(c[name]) for name in base) + " |" for key, c in results.items()),
        "",
        "Each cell: the method's mean, its difference from plain hybrid with the 95% paired bootstrap interval, "
        "wins/ties/losses. `auto` (the answer default) is coverage where long documents hold less than half of "
        f"the candidates (here {covering} of {len(rows)} queries) and near-duplicates elsewhere "
        f"(`SYNTHRAG_DIVERSITY_LONG_DOCUMENT={long_document}`).",
        "",
        "`auto` against `near-duplicates` (the answer default before it), paired per query:",
        "",
        "| folds | nDCG@10 (all) | doc recall@5 (multi) | alpha-nDCG@5 (multi) | alpha-nDCG@5 (all) |",
        "|---|---|---|---|---|",
        *(f"| {key} | " + " | ".join(_cell(c[name]) for name in base) + " |" for key, c in against.items()),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "COVERAGE.md").write_text(report, encoding="utf-8")
    body = {
        "command": command,
        "base": mean,
        "auto_covered_queries": covering,
        "cross_fitted": {key: {name: c.as_json() for name, c in comps.items()} for key, comps in results.items()},
        "auto_vs_near_duplicates": {
            key: {name: c.as_json() for name, c in comps.items()} for key, comps in against.items()
        },
    }
    (args.out / "coverage.json").write_text(json.dumps(body, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench coverage", description=__doc__)
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--split", default="train")
    parser.add_argument("--sample-docs", type=int, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", default="0,1,2", help="fold assignments to run, comma-separated")
    parser.add_argument("--write", type=Path, default=None, help="fit on every query and write the model here")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    settings = get_settings()
    bundled = load_model(settings.diversity_coverage_model)
    components = build_configured(settings, answers=False, synthesis=False)
    try:
        dataset, collection, _ = prepare_dataset(
            args.dataset, args.split, store=components.search.store, ingestor=components.ingest.ingestor,
            sample_docs=args.sample_docs,
        )  # fmt: skip
        done = [0]

        def tick() -> None:
            done[0] += 1
            if done[0] % 100 == 0:
                print(f"{done[0]} queries", file=sys.stderr)

        rows: dict[str, QueryRows] = collect(
            dataset, components.search.searcher, collection=collection, settings=settings, peers=bundled.peers,
            on_query=tick,
        )  # fmt: skip
    finally:
        components.close()
    qrels = {qid: dict(rels) for qid, rels in dataset.qrels.items()}
    base = measures({qid: row.hits for qid, row in rows.items()}, qrels)
    candidates, similarity = settings.diversity_candidates, settings.diversity_similarity
    repeats = DiversityParams(method=Diversity.NEAR_DUPLICATES, similarity=similarity, candidates=candidates)
    repeats_set_back = measures({qid: diversify(r.hits, repeats, r.vectors) for qid, r in rows.items()}, qrels)
    results: dict[str, dict[str, PairedComparison]] = {}
    against: dict[str, dict[str, PairedComparison]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        runs = cross_fitted(
            rows, qrels, folds=args.folds, seed=seed, decay=bundled.decay, peers=bundled.peers,
            candidates=candidates, similarity=similarity,
        )  # fmt: skip
        auto = automatic(
            rows, runs, candidates=candidates, similarity=similarity, long_document=settings.diversity_long_document
        )
        covered, automatic_ = measures(runs, qrels), measures(auto, qrels)
        results[f"coverage, seed {seed}"] = {m: paired_comparison(base[m], covered[m]) for m in base}
        results[f"auto, seed {seed}"] = {m: paired_comparison(base[m], automatic_[m]) for m in base}
        against[f"auto, seed {seed}"] = {m: paired_comparison(repeats_set_back[m], automatic_[m]) for m in base}
    _report(args, settings, rows, base, results, against=against, decay=bundled.decay)
    if args.write is not None:
        x, y = design(rows, qrels, sorted(rows))
        where = f"{args.dataset.name} {args.split}, {len(rows)} queries, {len(y)} candidate documents"
        model = model_from(x, y, decay=bundled.decay, peers=bundled.peers, fitted_on=where)
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(model.model_dump_json(indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.write}", file=sys.stderr)
    return 0
