"""``synthrag eval-docs``: a relevant document in the top k on a folder of real files, methods switched on in turn."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from app.components import Components, build_components, build_configured
from evaluation.beir import DatasetFormatError
from evaluation.docset import DocSet, DocsetReport, Search, docset_items, evaluate_docset, load_docset
from evaluation.paired import paired_comparison
from ingest.pipeline import IngestOutcome
from kernel.ids import sha256_text
from kernel.models import SearchMode
from kernel.settings import Settings


@dataclass(frozen=True, slots=True)
class Variant:
    """One configuration measured: a name and the settings it changes."""

    name: str
    context_headers: bool
    query_preferences: bool


#: With --compare: each method added to the one before (the last is the default configuration).
VARIANTS = (
    Variant("plain", context_headers=False, query_preferences=False),
    Variant("+context headers", context_headers=True, query_preferences=False),
    Variant("+query period/organisation", context_headers=True, query_preferences=True),
)


def index_docset(docset: DocSet, components: Components) -> str:
    """Index every file once per ingest configuration; returns the collection."""
    ingestor = components.ingest.ingestor
    collection = "eval-docs-" + sha256_text(f"{docset.root.resolve()}:{docset.fingerprint}:{ingestor.config_key}")[:16]
    store = components.search.store
    ingestor.prepare(collection)
    if store.get_metadata(collection).get("eval_index") != docset.fingerprint:
        bar = tqdm(total=len(docset.files), unit="file", file=sys.stderr, desc="indexing", leave=False)

        def progress(_: IngestOutcome) -> None:
            bar.update()

        outcomes = ingestor.ingest(docset_items(docset), collection=collection, synthesize=False, on_progress=progress)
        failed = [f"{o.source}: {o.error}" for o in outcomes if o.status == "failed"]
        if failed:
            raise DatasetFormatError(f"{len(failed)} file(s) failed to ingest: " + "; ".join(failed[:3]))
        bar.close()
        store.optimize(collection)
        store.set_metadata(collection, {**store.get_metadata(collection), "eval_index": docset.fingerprint})
    return collection


def _measure(docset: DocSet, components: Components, modes: list[SearchMode], k: int) -> list[DocsetReport]:
    collection = index_docset(docset, components)
    searcher = components.search.searcher

    def searching(mode: SearchMode) -> Search:
        return lambda text: searcher.search(text, collection=collection, k=k, mode=mode)

    return [evaluate_docset(docset, searching(mode), mode=mode, k=k) for mode in modes]


def run_eval_docs(args: argparse.Namespace, settings: Settings) -> int:
    """Measure the default configuration, or with --compare every variant in one run, paired per question."""
    docset = load_docset(args.dataset, args.queries)
    modes = [SearchMode(args.mode)] if args.mode else [settings.search_mode]
    variants = VARIANTS if args.compare else (Variant("default", settings.context_headers, settings.query_preferences),)
    base = build_configured(settings, answers=False, synthesis=False)
    results: list[tuple[Variant, list[DocsetReport]]] = []
    try:
        for variant in variants:
            changed = settings.model_copy(
                update={"context_headers": variant.context_headers, "query_preferences": variant.query_preferences}
            )
            parts = build_components(changed, embedder=base.search.embedder, store=base.search.store)
            results.append((variant, _measure(docset, parts, modes, args.k)))
    finally:
        base.close()
    rows = _rows(results)
    if args.json:
        questions = str(args.queries or args.dataset / "queries.jsonl")
        summary = {"dataset": str(args.dataset), "queries": questions, "k": args.k, "questions": len(docset.qrels)}
        print(json.dumps({**summary, "results": rows}))
        return 0
    print(f"dataset={args.dataset} questions={len(docset.qrels)} measure=relevant document in top {args.k}")
    for row in rows:
        change = ""
        if "vs_previous" in row:
            c = row["vs_previous"]
            change = f"  vs previous {c['delta']:+.3f} [{c['delta_ci'][0]:+.3f}, {c['delta_ci'][1]:+.3f}]"
        print(
            f"{row['variant']:<28} mode={row['mode']:<10} all={row['hit']:.3f} "
            f"one-doc={row['single']:.3f} (n={row['n_single']}) several={row['multi']:.3f} (n={row['n_multi']}) "
            f"interpreted={row['interpreted']}{change}"
        )
    return 0


def _rows(results: list[tuple[Variant, list[DocsetReport]]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for index, (variant, reports) in enumerate(results):
        for position, report in enumerate(reports):
            row: dict[str, Any] = {
                "variant": variant.name,
                **report.model_dump(mode="json", exclude={"per_query"}),
            }
            if index > 0:
                before = results[index - 1][1][position]
                row["vs_previous"] = paired_comparison(before.per_query, report.per_query).as_json()
            rows.append(row)
    return rows
