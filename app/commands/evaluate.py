"""``synthrag eval``: retrieval quality on a BEIR-format dataset, optionally raw vs +synthetic side by side."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NamedTuple

from tqdm import tqdm

from app.commands.synthetic_setup import SyntheticSample, index_sample, open_components, prepare
from app.components import Components, build_configured
from evaluation.beir import BeirDataset
from evaluation.calibration import GRID
from evaluation.metrics import EvalReport
from evaluation.paired import PairedComparison
from evaluation.runner import CHUNK_DEPTH, RANK_DEPTH, run_queries, score
from evaluation.synthetic import compare, run_variant
from kernel.errors import InvalidRequestError
from kernel.ids import document_id
from kernel.models import SearchMode
from kernel.settings import Settings
from knowledge.profile import CHUNK_ITEM_KINDS, TeacherProfile, profile_for
from knowledge.reports import SynthCounts
from retrieval.rerank import RerankParams


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Index (once; with --synthetic also synthesize once), query, print metrics."""
    if getattr(args, "adapt", None):
        from app.commands.evaluate_adapt import run_eval_adapt

        return run_eval_adapt(args, settings)
    if getattr(args, "folds", None) is not None:
        raise InvalidRequestError("--folds needs --adapt")
    if getattr(args, "diversity", False):
        from app.commands.evaluate_diversity import run_eval_diversity

        return run_eval_diversity(args, settings)
    if getattr(args, "synthetic", False):
        return _run_synthetic(args, settings)
    if getattr(args, "synth_top_n", None) is not None:
        raise InvalidRequestError("--synth-top-n needs --synthetic")
    modes = [SearchMode(args.mode)] if args.mode else [settings.search_mode]
    components = build_configured(settings, answers=False, synthesis=False)
    searcher = components.search.searcher
    try:
        bar = tqdm(unit="doc", file=sys.stderr, desc="indexing", leave=False)
        dataset, collection = index_sample(args, components, bar)
        bar.close()
        rows = [
            (mode, score(dataset, run_queries(dataset, searcher, collection=collection, mode=mode))) for mode in modes
        ]
    finally:
        components.close()
    if args.json:
        if len(rows) == 1:
            print(json.dumps(rows[0][1].as_json(rows[0][0].value)))
        else:
            print(json.dumps({"results": [report.as_json(mode.value) for mode, report in rows]}))
        return 0
    for mode, report in rows:
        print(
            f"mode={mode.value} queries={report.n_queries} ndcg@10={report.ndcg_at_10:.4f} "
            f"recall@10={report.recall_at_10:.4f} recall@100={report.recall_at_100:.4f} "
            f"mrr@10={report.mrr_at_10:.4f}"
        )
    return 0


class _Row(NamedTuple):
    mode: SearchMode
    raw: EvalReport
    synthetic: EvalReport
    default: PairedComparison
    rerank: PairedComparison
    expansion: PairedComparison


def _run_synthetic(args: argparse.Namespace, settings: Settings) -> int:
    """Raw vs synthetic re-ranking and expansion, every mode (or --mode), paired per query at production k."""
    modes = [SearchMode(args.mode)] if args.mode else list(SearchMode)
    components = open_components(settings)
    try:
        sample = prepare(args, components, modes)
        profile = components.search.searcher.profile(sample.collection) or profile_for(sample.teacher)
        cfg = components.settings.synth
        default = RerankParams(
            rerank_lambda=profile.rerank_lambda if cfg.rerank_lambda is None else cfg.rerank_lambda,
            expansion_alpha=profile.expansion_alpha if cfg.expansion_alpha is None else cfg.expansion_alpha,
            depth=cfg.rerank_depth,
            kinds=tuple(profile.item_kinds),
        )
        lam = default.rerank_lambda or GRID[len(GRID) // 2]
        alpha = default.expansion_alpha or GRID[len(GRID) // 2]
        rerank = RerankParams(rerank_lambda=lam, depth=cfg.rerank_depth, kinds=CHUNK_ITEM_KINDS)
        expansion = RerankParams(expansion_alpha=alpha, depth=cfg.rerank_depth, kinds=CHUNK_ITEM_KINDS)
        rows = [
            _Row(
                mode=c.mode,
                raw=score(sample.dataset, _deep(run_variant(c, None, limit=CHUNK_DEPTH))),
                synthetic=score(sample.dataset, _deep(run_variant(c, default, limit=CHUNK_DEPTH))),
                default=compare(c, sample.dataset.qrels, default),
                rerank=compare(c, sample.dataset.qrels, rerank),
                expansion=compare(c, sample.dataset.qrels, expansion),
            )
            for c in sample.collected
        ]
        totals = _synthesis_totals(components, sample.dataset, sample.collection)
    finally:
        components.close()
    if args.json:
        print(
            json.dumps(
                _as_json(rows, sample=sample, profile=profile, default=default, lam=lam, alpha=alpha, totals=totals)
            )
        )
    else:
        print(_table(rows, sample=sample, default=default, lam=lam, alpha=alpha, totals=totals))
    return 0


def _deep(run: dict[str, list[str]]) -> dict[str, list[str]]:
    return {qid: docs[:RANK_DEPTH] for qid, docs in run.items()}


def _synthesis_totals(components: Components, dataset: BeirDataset, collection: str) -> SynthCounts:
    """Counts summed over the reports of the evaluated documents."""
    totals = SynthCounts()
    for source in dataset.corpus:
        report = components.ingest.reports.get(collection, document_id(collection, source))
        if report is not None:
            totals.add(report.counts)
    return totals


def _as_json(
    rows: list[_Row],
    *,
    sample: SyntheticSample,
    profile: TeacherProfile,
    default: RerankParams,
    lam: float,
    alpha: float,
    totals: SynthCounts,
) -> dict[str, Any]:
    return {
        "sample": sample.description,
        "teacher": sample.teacher,
        "profile": profile.model_dump(mode="json"),
        "default": {"rerank_lambda": default.rerank_lambda, "expansion_alpha": default.expansion_alpha},
        "results": [
            {
                "mode": row.mode.value,
                "raw": row.raw.as_json(row.mode.value),
                "synthetic": row.synthetic.as_json(row.mode.value),
                **row.default.as_json(),
                "rerank": {"rerank_lambda": lam, **row.rerank.as_json()},
                "expansion": {"expansion_alpha": alpha, **row.expansion.as_json()},
            }
            for row in rows
        ],
        "synthesis": totals.model_dump(),
    }


def _cell(c: PairedComparison) -> str:
    return f"{c.delta:+.4f} [{c.delta_ci[0]:+.4f}, {c.delta_ci[1]:+.4f}] {c.wins}/{c.ties}/{c.losses}"


def _table(
    rows: list[_Row], *, sample: SyntheticSample, default: RerankParams, lam: float, alpha: float, totals: SynthCounts
) -> str:
    lines = [
        f"{sample.description}; teacher {sample.teacher}",
        f"delta nDCG@10 vs raw at k, [95% paired bootstrap interval], wins/ties/losses; default = profile "
        f"(lambda {default.rerank_lambda:g}, alpha {default.expansion_alpha:g})",
        f"{'mode':<11} {'raw':>7} {'default':>38} {f'+re-rank (lambda {lam:g})':>38} "
        f"{f'+expansion (alpha {alpha:g})':>38}",
    ]
    for row in rows:
        lines.append(
            f"{row.mode.value:<11} {row.default.base_mean:>7.4f} {_cell(row.default):>38} {_cell(row.rerank):>38} "
            f"{_cell(row.expansion):>38}"
        )
    generated = max(totals.generated, 1)
    dropped = ", ".join(f"{r} {n} ({n / generated:.1%})" for r, n in totals.dropped.items())
    lines.append(
        f"synthesis: {totals.chunks} chunks ({totals.chunks_failed} failed), {totals.generated} items generated, "
        f"{totals.kept} kept ({totals.kept / generated:.1%}); dropped: {dropped}"
    )
    return "\n".join(lines)
