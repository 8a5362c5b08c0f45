"""``synthrag eval --adapt TRAIN_SPLIT``: base vs adapted embedder per mode, paired per query.

With ``TRAIN_SPLIT`` another split, the collection is adapted once on that split's qrels (plus its
synthetic pairs) and the evaluated split's queries compare the base space with the adapted one. With
the evaluated split itself, ``--folds N`` is required: its queries are cut into N seeded folds and each
fold is evaluated after adapting on the other folds, so no query is ever judged by a model trained on
it. A fold whose adapted model fails the gate is evaluated with the base model on both sides (that is
what the service would search with).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any, NamedTuple

from tqdm import tqdm

from adaptation.pairs import from_qrels
from adaptation.service import Adapter, AdaptReport
from app.commands.adapt import Bars, make_adapter
from app.commands.synthetic_setup import index_sample
from app.components import build_configured
from evaluation.beir import BeirDataset, load_beir
from evaluation.metrics import EvalReport, evaluate
from evaluation.paired import PairedComparison, paired_comparison, per_query_ndcg
from evaluation.runner import CHUNK_DEPTH, collapse
from kernel.errors import InvalidRequestError
from kernel.models import Fusion, SearchMode
from kernel.payload import DENSE_VECTOR
from kernel.settings import Settings
from retrieval.search import Searcher


class Variant(NamedTuple):
    """One row of the table: a search mode and, for hybrid, how its arms are fused."""

    label: str
    mode: SearchMode
    fusion: Fusion


VARIANTS = (
    Variant("dense", SearchMode.DENSE, Fusion.RRF),
    Variant("hybrid", SearchMode.HYBRID, Fusion.RRF),
    Variant("hybrid-convex", SearchMode.HYBRID, Fusion.CONVEX),
)


def folds_of(query_ids: list[str], n: int, seed: int) -> list[list[str]]:
    """``n`` seeded folds of the query ids (sizes differ by one at most)."""
    shuffled = sorted(query_ids)
    random.Random(seed).shuffle(shuffled)
    return [sorted(shuffled[i::n]) for i in range(n)]


def rank(
    searcher: Searcher, dataset: BeirDataset, collection: str, ids: list[str], space: str
) -> dict[str, dict[str, list[str]]]:
    """Per variant label, the ranked documents of each query searched in ``space``."""
    runs: dict[str, dict[str, list[str]]] = {v.label: {} for v in VARIANTS}
    for qid in ids:
        text = dataset.queries[qid]
        vector = searcher.embed_query(text, collection=collection, space=space)
        for variant in VARIANTS:
            hits = searcher.search(
                text,
                collection=collection,
                k=CHUNK_DEPTH,
                mode=variant.mode,
                synthetic=False,
                query_vector=vector,
                space=space,
                fusion=variant.fusion,
            ).hits
            runs[variant.label][qid] = collapse(hits)
    return runs


def run_eval_adapt(args: argparse.Namespace, settings: Settings) -> int:
    """Index once; adapt (per fold); compare base and adapted per variant; print a table or JSON."""
    same = args.adapt == args.split
    if same and (args.folds is None or args.folds < 2):
        raise InvalidRequestError(
            f"--adapt {args.adapt} is the evaluated split: give --folds N (N >= 2) to adapt on the other folds, "
            "or adapt on another split"
        )
    if not same and args.folds is not None:
        raise InvalidRequestError("--folds needs --adapt to name the evaluated split")
    components = build_configured(settings, answers=False, synthesis=False)
    adapter = make_adapter(components, settings)
    progress = not getattr(args, "no_progress", False)
    try:
        bar = tqdm(unit="doc", file=sys.stderr, desc="indexing", leave=False, disable=not progress)
        dataset, collection = index_sample(args, components, bar)
        bar.close()
        judged = sorted(q for q in dataset.qrels if q in dataset.queries)
        if same:
            plan = [(fold, sorted(set(judged) - set(fold))) for fold in folds_of(judged, args.folds, args.seed)]
            train_set = dataset
        else:
            train_set = load_beir(args.dataset, args.adapt)
            plan = [(judged, sorted(train_set.qrels))]
        try:
            base_runs, adapted_runs, reports = _run_plan(
                adapter, components.search.searcher, dataset, train_set, collection, plan, progress=progress
            )
        finally:
            adapter.revert(collection)  # plain evals of this index measure the base model again
    finally:
        components.close()
    rows = [_row(label, dataset, base_runs[label], adapted_runs[label]) for label in base_runs]
    print(json.dumps(_as_json(args, rows, reports)) if args.json else _table(args, rows, reports))
    return 0


Runs = dict[str, dict[str, list[str]]]


def _run_plan(  # noqa: PLR0917 - the pieces of one evaluation
    adapter: Adapter,
    searcher: Searcher,
    dataset: BeirDataset,
    train_set: BeirDataset,
    collection: str,
    plan: list[tuple[list[str], list[str]]],
    *,
    progress: bool,
) -> tuple[Runs, Runs, list[AdaptReport]]:
    """For each (evaluated ids, training ids): adapt, then rank the evaluated queries in both spaces."""
    passages = adapter.passages(collection)
    base_runs: Runs = {v.label: {} for v in VARIANTS}
    adapted_runs: Runs = {v.label: {} for v in VARIANTS}
    reports: list[AdaptReport] = []
    for number, (evaluated, train_ids) in enumerate(plan, start=1):
        print(f"fold {number}/{len(plan)}: adapting on {len(train_ids)} queries", file=sys.stderr)
        labelled = from_qrels(
            {q: train_set.queries[q] for q in train_ids if q in train_set.queries},
            {q: train_set.qrels[q] for q in train_ids},
            passages,
        )
        adapter.revert(collection)  # each fold starts from the base model, as the table compares with it
        bars = Bars(progress)
        try:
            report = adapter.adapt(collection, labelled, passages=passages, progress=bars.progress())
        finally:
            bars.close()
        reports.append(report)
        print(f"fold {number}: {report.reason}", file=sys.stderr)
        started = time.perf_counter()
        base = rank(searcher, dataset, collection, evaluated, DENSE_VECTOR)
        adapted = rank(searcher, dataset, collection, evaluated, report.space) if report.active else base
        for label, run in base.items():
            base_runs[label].update(run)
            adapted_runs[label].update(adapted[label])
        print(f"fold {number}: evaluated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return base_runs, adapted_runs, reports


class _Row(NamedTuple):
    label: str
    base: EvalReport
    adapted: EvalReport
    paired: PairedComparison


def _row(label: str, dataset: BeirDataset, base: dict[str, list[str]], adapted: dict[str, list[str]]) -> _Row:
    qrels = {q: dataset.qrels[q] for q in base}
    return _Row(
        label,
        evaluate(base, qrels),
        evaluate(adapted, qrels),
        paired_comparison(per_query_ndcg(base, qrels), per_query_ndcg(adapted, qrels)),
    )


def _as_json(args: argparse.Namespace, rows: list[_Row], reports: list[AdaptReport]) -> dict[str, Any]:
    return {
        "split": args.split,
        "adapt": args.adapt,
        "folds": args.folds,
        "results": [
            {
                **row.adapted.as_json(row.label),
                "base": row.base.as_json(row.label),
                "adapted": row.adapted.as_json(row.label),
                **row.paired.as_json(),
            }
            for row in rows
        ],
        "adaptations": [r.model_dump(mode="json") for r in reports],
    }


def _table(args: argparse.Namespace, rows: list[_Row], reports: list[AdaptReport]) -> str:
    how = f"{args.folds}-fold cross-validation on {args.split}" if args.folds else f"adapted on {args.adapt}"
    lines = [
        f"{how}: nDCG@10 base vs adapted, delta [95% paired bootstrap interval], wins/ties/losses",
        f"{'mode':<14} {'base':>7} {'adapted':>8} {'delta':>8} {'interval':>20} {'w/t/l':>12}",
    ]
    for row in rows:
        p = row.paired
        lines.append(
            f"{row.label:<14} {row.base.ndcg_at_10:>7.4f} {row.adapted.ndcg_at_10:>8.4f} {p.delta:>+8.4f} "
            f"{f'[{p.delta_ci[0]:+.4f}, {p.delta_ci[1]:+.4f}]':>20} {f'{p.wins}/{p.ties}/{p.losses}':>12}"
        )
    for number, report in enumerate(reports, start=1):
        train = report.train.seconds if report.train is not None else 0.0
        lines.append(
            f"fold {number}: {report.triples} triples, training {train:.0f} s, re-embedding "
            f"{report.reembed_points} points {report.reembed_seconds:.0f} s; "
            + ("active" if report.active else "gate refused")
            + f" ({report.reason})"
        )
    return "\n".join(lines)
