"""``synthrag adapt``: fine-tune the embedder for one collection, gate it, re-embed, switch searches to it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from adaptation.pairs import TrainingQuery, from_jsonl, from_qrels
from adaptation.service import Adapter, AdaptReport, Progress, stored_report
from app.components import Components, build_components
from evaluation.beir import load_beir
from kernel.errors import InvalidRequestError
from kernel.settings import Settings
from kernel.tenancy import CollectionName
from retrieval.embedding import bundled_model_path
from retrieval.spaces import space_record


def make_adapter(components: Components, settings: Settings) -> Adapter:
    """The adapter over the process's store, searcher and dense spaces."""
    search = components.search
    return Adapter(
        store=search.store,
        searcher=search.searcher,
        spaces=search.spaces,
        base_model=Path(settings.embed_model) if settings.embed_model else bundled_model_path(),
        data_dir=settings.data_dir,
        params=settings.adapt,
        threads=settings.embed_threads,
        mode=settings.search_mode,
    )


class Bars:
    """One tqdm bar per stage on stderr (none with ``--no-progress``)."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._bar: tqdm[Any] | None = None

    def stage(self, name: str, total: int) -> None:
        self.close()
        if self._enabled:
            self._bar = tqdm(total=total, desc=name, file=sys.stderr, leave=False)

    def count(self, done: int) -> None:
        if self._bar is not None:
            self._bar.n = done
            self._bar.refresh()

    def step(self, step: int, total: int, loss: float) -> None:
        if self._bar is not None:
            self._bar.total = total
            self._bar.n = step
            self._bar.set_postfix(loss=f"{loss:.3f}", refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def progress(self) -> Progress:
        return Progress(on_stage=self.stage, on_step=self.step, on_count=self.count)


def run_adapt(args: argparse.Namespace, settings: Settings) -> int:
    """Adapt (or --revert, or --status) a collection; print the report; exit 0 whatever the gate said."""
    collection = CollectionName(args.collection or settings.collection)
    components = build_components(settings)
    try:
        if not components.search.store.exists(collection):
            raise InvalidRequestError(f"collection '{collection}' does not exist; ingest documents first")
        if args.status:
            meta = components.search.store.get_metadata(collection)
            report = stored_report(meta)
            active = space_record(meta).active
            body = {
                "collection": collection,
                "active": active.model_dump() if active is not None else None,
                "last": report.model_dump(mode="json") if report is not None else None,
            }
            print(json.dumps(body, indent=2))
            return 0
        adapter = make_adapter(components, settings)
        if args.revert:
            reverted = adapter.revert(collection)
            print(f"{collection}: searches use the base model" + ("" if reverted else " (they already did)"))
            return 0
        passages = adapter.passages(collection)
        labelled: list[TrainingQuery] = []
        if args.pairs is not None:
            labelled += from_jsonl(args.pairs, passages)
        if args.qrels is not None:
            if not args.split:
                raise InvalidRequestError("--qrels needs --split (the qrels split to train on)")
            dataset = load_beir(args.qrels, args.split)
            labelled += from_qrels(dataset.queries, dataset.qrels, passages)
        if args.no_synthetic:
            settings_off = settings.adapt.model_copy(update={"synthetic_pairs": False})
            adapter = make_adapter(components, settings.model_copy(update={"adapt": settings_off}))
        bars = Bars(not args.no_progress)
        try:
            report = adapter.adapt(collection, labelled, passages=passages, progress=bars.progress())
        finally:
            bars.close()
    finally:
        components.close()
    print(report.model_dump_json(indent=2) if args.json else format_report(report))
    return 0


def format_report(report: AdaptReport) -> str:
    """A few readable lines: data, training, re-embedding, the gate's verdict."""
    q = report.queries
    lines = [
        f"collection {report.collection}: {q.get('labelled', 0)} labelled + {q.get('synthetic', 0)} synthetic "
        f"queries ({q.get('held_apart', 0)} held apart for the gate); {report.triples} training triples "
        f"({report.hard_negatives} with a hard negative)",
    ]
    if report.train is not None:
        t = report.train
        lines.append(
            f"trained {t.steps} steps x {t.epochs} epoch(s) in {t.seconds:.0f} s; "
            f"loss {t.first_loss:.3f} -> {t.last_loss:.3f}"
        )
    if report.reembed_points:
        lines.append(
            f"re-embedded {report.reembed_points} points in {report.reembed_seconds:.0f} s into {report.space}"
        )
    if report.gate is not None:
        g = report.gate
        lines.append(
            f"gate ({g.mode}, nDCG@10): base {g.base_ndcg:.4f}, adapted {g.adapted_ndcg:.4f}, "
            f"delta {g.delta:+.4f} [{g.delta_ci[0]:+.4f}, {g.delta_ci[1]:+.4f}], "
            f"wins/ties/losses {g.wins}/{g.ties}/{g.losses}"
        )
    lines.append(("ACTIVE: " if report.active else "NOT USED: ") + report.reason)
    return "\n".join(lines)
