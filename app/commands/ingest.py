"""``synthrag ingest``: files and folders into a collection, with a summary line."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator

from tqdm import tqdm

from app.services import build_services
from ingest.files import collect_files, load_item
from ingest.pipeline import IngestItem, IngestOutcome
from kernel.errors import InputError
from kernel.settings import Settings, validate_collection_name


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest; exit 0 when nothing failed, 1 otherwise."""
    collection = validate_collection_name(args.collection or settings.collection)
    found, problems = collect_files(args.paths)
    failures: list[tuple[str, str]] = [(str(path), reason) for path, reason in problems]
    services = build_services(settings)
    progress = tqdm(total=len(found), unit="doc", file=sys.stderr, disable=args.no_progress or None)

    def items() -> Iterator[IngestItem]:
        for file in found:
            try:
                yield load_item(file, tags=args.tags)
            except InputError as exc:
                failures.append((str(file.path), exc.message))
                progress.update(1)

    outcomes: list[IngestOutcome] = []

    def on_progress(outcome: IngestOutcome) -> None:
        outcomes.append(outcome)
        if outcome.status == "failed":
            failures.append((outcome.source, outcome.error or "unknown error"))
        progress.update(1)

    try:
        services.ingestor.ingest(items(), collection=collection, on_progress=on_progress)
        if any(o.status == "indexed" for o in outcomes):
            # Build the vector indexes once after the bulk load, so searches do not scan.
            services.store.optimize(collection)
    finally:
        progress.close()
        services.close()
    counts = Counter(o.status for o in outcomes)
    chunks = sum(o.chunks for o in outcomes if o.status == "indexed")
    print(
        f"collection {collection}: {counts['indexed']} documents indexed, {chunks} chunks, "
        f"{counts['unchanged']} skipped-unchanged, {len(failures)} failed"
    )
    for source, reason in failures:
        print(f"  failed: {source}: {reason}")
    return 1 if failures else 0
