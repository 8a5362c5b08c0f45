"""``synthrag eval``: retrieval quality on a BEIR-format dataset."""

from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from app.services import build_services
from ingest.pipeline import IngestOutcome
from kernel.models import SearchMode
from kernel.settings import Settings
from retrieval.eval.runner import prepare_dataset, run_queries, score


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Index (once), query, print metrics."""
    mode = SearchMode(args.mode) if args.mode else settings.search_mode
    services = build_services(settings)
    try:
        bar = tqdm(unit="doc", file=sys.stderr, desc="indexing", leave=False)

        def on_progress(_: IngestOutcome) -> None:
            bar.update(1)

        dataset, collection, indexed = prepare_dataset(
            args.dataset, args.split, store=services.store, ingestor=services.ingestor, on_progress=on_progress
        )
        bar.close()
        if not indexed:
            print(f"reusing index {collection}", file=sys.stderr)
        run = run_queries(dataset, services.searcher, collection=collection, mode=mode)
    finally:
        services.close()
    report = score(dataset, run)
    if args.json:
        print(json.dumps(report.as_json(mode.value)))
    else:
        print(
            f"mode={mode.value} queries={report.n_queries} ndcg@10={report.ndcg_at_10:.4f} "
            f"recall@10={report.recall_at_10:.4f} recall@100={report.recall_at_100:.4f} "
            f"mrr@10={report.mrr_at_10:.4f}"
        )
    return 0
