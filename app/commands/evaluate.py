"""``synthrag eval``: retrieval quality on a BEIR-format dataset, optionally raw vs +synthetic side by side."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tqdm import tqdm

from app.components import Components, build_configured
from evaluation.beir import BeirDataset
from evaluation.metrics import EvalReport
from evaluation.runner import prepare_dataset, run_queries, score
from ingest.pipeline import IngestOutcome
from kernel.ids import document_id
from kernel.models import SearchMode
from kernel.settings import Settings
from knowledge.reports import SynthCounts


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Index (once; with --synthetic also synthesize once), query, print metrics."""
    synthetic = bool(getattr(args, "synthetic", False))
    default_modes = list(SearchMode) if synthetic else [settings.search_mode]
    modes = [SearchMode(args.mode)] if args.mode else default_modes
    components = build_configured(settings, answers=False, synthesis=synthetic)
    searcher, ingestor = components.search.searcher, components.ingest.ingestor
    try:
        bar = tqdm(unit="doc", file=sys.stderr, desc="indexing", leave=False)

        def on_progress(_: IngestOutcome) -> None:
            bar.update(1)

        def on_stage(stage: str, done: int, total: int) -> None:
            if stage == "synthesis":
                bar.set_description("synthesis")
                bar.unit = "chunk"
                bar.total = total
                bar.n = done
                bar.refresh()

        dataset, collection, indexed = prepare_dataset(
            args.dataset,
            args.split,
            store=components.search.store,
            ingestor=ingestor,
            on_progress=on_progress,
            sample_docs=getattr(args, "sample_docs", None),
            seed=getattr(args, "seed", 0),
            max_relevant_share=getattr(args, "max_relevant_share", None),
            synthesize=synthetic,
            on_stage=on_stage,
        )
        bar.close()
        if not indexed:
            print(f"reusing index {collection}", file=sys.stderr)
        rows: list[tuple[SearchMode, EvalReport, EvalReport | None]] = []
        for mode in modes:
            raw = score(dataset, run_queries(dataset, searcher, collection=collection, mode=mode))
            plus = None
            if synthetic:
                run = run_queries(dataset, searcher, collection=collection, mode=mode, synthetic=True)
                plus = score(dataset, run)
            rows.append((mode, raw, plus))
        totals = _synthesis_totals(components, dataset, collection) if synthetic else None
        teacher = ingestor.synthesis.teacher if ingestor.synthesis is not None else None
    finally:
        components.close()
    sample = f"{len(dataset.corpus)} documents, {len(dataset.queries)} queries"
    if args.json:
        print(json.dumps(_as_json(rows, sample=sample, teacher=teacher, totals=totals)))
    elif not synthetic:
        for mode, report, _ in rows:
            print(
                f"mode={mode.value} queries={report.n_queries} ndcg@10={report.ndcg_at_10:.4f} "
                f"recall@10={report.recall_at_10:.4f} recall@100={report.recall_at_100:.4f} "
                f"mrr@10={report.mrr_at_10:.4f}"
            )
    else:
        print(_table(rows, sample=sample, teacher=teacher, totals=totals))
    return 0


def _synthesis_totals(components: Components, dataset: BeirDataset, collection: str) -> SynthCounts:
    """Counts summed over the reports of the evaluated documents."""
    totals = SynthCounts()
    for source in dataset.corpus:
        report = components.ingest.reports.get(collection, document_id(collection, source))
        if report is not None:
            totals.add(report.counts)
    return totals


def _as_json(
    rows: list[tuple[SearchMode, EvalReport, EvalReport | None]],
    *,
    sample: str,
    teacher: str | None,
    totals: SynthCounts | None,
) -> dict[str, Any]:
    if teacher is None:
        if len(rows) == 1:
            return rows[0][1].as_json(rows[0][0].value)
        return {"results": [raw.as_json(mode.value) for mode, raw, _ in rows]}
    return {
        "sample": sample,
        "teacher": teacher,
        "results": [
            {
                "mode": mode.value,
                "raw": raw.as_json(mode.value),
                "synthetic": plus.as_json(mode.value) if plus else None,
            }
            for mode, raw, plus in rows
        ],
        "synthesis": totals.model_dump() if totals else None,
    }


def _table(
    rows: list[tuple[SearchMode, EvalReport, EvalReport | None]],
    *,
    sample: str,
    teacher: str | None,
    totals: SynthCounts | None,
) -> str:
    lines = [
        f"{sample}; teacher {teacher}",
        f"{'mode':<11} {'nDCG@10 raw':>12} {'+synthetic':>11} {'delta':>7} {'R@100 raw':>10} {'+synthetic':>11}",
    ]
    for mode, raw, plus in rows:
        assert plus is not None
        lines.append(
            f"{mode.value:<11} {raw.ndcg_at_10:>12.4f} {plus.ndcg_at_10:>11.4f} "
            f"{plus.ndcg_at_10 - raw.ndcg_at_10:>+7.4f} {raw.recall_at_100:>10.4f} {plus.recall_at_100:>11.4f}"
        )
    if totals is not None:
        generated = max(totals.generated, 1)
        dropped = ", ".join(f"{r} {n} ({n / generated:.1%})" for r, n in totals.dropped.items())
        lines.append(
            f"synthesis: {totals.chunks} chunks ({totals.chunks_failed} failed), {totals.generated} items generated, "
            f"{totals.kept} kept ({totals.kept / generated:.1%}); dropped: {dropped}"
        )
    return "\n".join(lines)
