"""``synthrag eval --diversity``: what each diversity method costs (nDCG@10) and buys, paired per query."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tqdm import tqdm

from app.commands.synthetic_setup import index_sample
from app.components import build_configured
from evaluation.diversity import ALPHA
from evaluation.diversity_run import HIT_K, MethodComparison, compare_method, methods_for, run_method, score_method
from evaluation.paired import PairedComparison
from kernel.errors import InvalidRequestError
from kernel.models import SearchMode
from kernel.settings import Settings


def run_eval_diversity(args: argparse.Namespace, settings: Settings) -> int:
    """Index (once), search every query with each method, print the comparison with the plain mode."""
    if getattr(args, "synthetic", False):
        raise InvalidRequestError("--diversity and --synthetic are separate runs: give one of them")
    mode = SearchMode(args.mode) if args.mode else settings.search_mode
    methods = methods_for(mode)
    components = build_configured(settings, answers=False, synthesis=False)
    try:
        bar = tqdm(unit="doc", file=sys.stderr, desc="indexing", leave=False)
        dataset, collection = index_sample(args, components, bar)
        bar.close()
        runs = []
        for method in methods:
            progress = tqdm(total=len(dataset.queries), unit="query", file=sys.stderr, desc=method.name, leave=False)
            runs.append(
                run_method(
                    dataset,
                    components.search.searcher,
                    collection=collection,
                    method=method,
                    answer_k=settings.answer_k,
                    similarity=settings.diversity_similarity,
                    on_query=progress.update,
                )
            )
            progress.close()
    finally:
        components.close()
    scores = [score_method(dataset.qrels, run) for run in runs]
    rows = [compare_method(method, scores[0], other) for method, other in zip(methods, scores, strict=True)]
    if args.json:
        print(json.dumps(as_json(rows, settings)))
    else:
        print(table(rows, settings))
    return 0


def _measure(c: PairedComparison | None) -> dict[str, Any] | None:
    return None if c is None else {"mean": c.other_mean, "vs_base": c.as_json()}


def as_json(rows: list[MethodComparison], settings: Settings) -> dict[str, Any]:
    """The baseline's usual ``eval --json`` keys, plus ``diversity``: every method, each measure vs the baseline."""
    base = rows[0]
    return {
        **base.report.as_json(base.mode.value),
        "diversity": {
            "base": base.method,
            "hit_k": HIT_K,
            "alpha": ALPHA,
            "answer_k": settings.answer_k,
            "per_document": settings.diversity_per_document,
            "decay": settings.diversity_decay,
            "similarity": settings.diversity_similarity,
            "candidates": settings.diversity_candidates,
            "queries": base.ndcg.n,
            "multi_relevant_queries": base.doc_recall.n if base.doc_recall is not None else 0,
            "methods": [
                {
                    "method": row.method,
                    "mode": row.mode.value,
                    "diversity": row.diversity.value,
                    "report": row.report.as_json(row.mode.value),
                    "ndcg@10": _measure(row.ndcg),
                    f"doc_recall@{HIT_K}": _measure(row.doc_recall),
                    f"alpha_ndcg@{HIT_K}": _measure(row.alpha_ndcg),
                    f"alpha_ndcg@{HIT_K}_all": _measure(row.alpha_ndcg_all),
                    f"near_duplicates@{settings.answer_k}": _measure(row.near_duplicates),
                }
                for row in rows
            ],
        },
    }


def _line(label: str, c: PairedComparison | None, *, first: bool) -> str:
    if c is None:
        return f"  {label:<42} (no such queries)"
    mean = f"  {label:<42} {c.other_mean:>7.4f}"
    if first:
        return mean
    return f"{mean}  {c.delta:+.4f} [{c.delta_ci[0]:+.4f}, {c.delta_ci[1]:+.4f}]  {c.wins}/{c.ties}/{c.losses}"


def table(rows: list[MethodComparison], settings: Settings) -> str:
    """Each method as a block: mean per measure, then vs the baseline: delta [95% interval] wins/ties/losses."""
    base = rows[0]
    n_all = base.ndcg.n
    n_multi = base.doc_recall.n if base.doc_recall is not None else 0
    lines = [
        f"{n_all} judged queries, {n_multi} with several relevant documents; vs {base.method}: "
        "delta [95% paired bootstrap interval] wins/ties/losses",
        f"per-document {settings.diversity_per_document} (decay {settings.diversity_decay:g}), "
        f"near-duplicate cosine {settings.diversity_similarity:g}, "
        f"over the top {settings.diversity_candidates} hits; answer context = top {settings.answer_k} hits",
    ]
    for i, row in enumerate(rows):
        lines.append(row.method)
        for label, c in [
            (f"nDCG@10 ({n_all} queries)", row.ndcg),
            (f"doc recall@{HIT_K} ({n_multi} multi-relevant)", row.doc_recall),
            (f"alpha-nDCG@{HIT_K} ({n_multi} multi-relevant)", row.alpha_ndcg),
            (f"alpha-nDCG@{HIT_K} ({n_all} queries)", row.alpha_ndcg_all),
            (f"near-duplicates in top {settings.answer_k} ({n_all} queries)", row.near_duplicates),
        ]:
            lines.append(_line(label, c, first=i == 0))
    return "\n".join(lines)
