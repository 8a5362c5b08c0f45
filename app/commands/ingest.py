"""``synthrag ingest``: files and folders into a collection, with a summary line."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from tqdm import tqdm

from app.components import build_configured
from ingest.files import collect_files, load_item
from ingest.pipeline import IngestItem, IngestOutcome
from kernel.errors import InputError
from kernel.settings import Settings
from kernel.tenancy import CollectionName
from knowledge.reports import SynthCounts


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest; exit 0 when nothing failed, 1 otherwise."""
    collection = CollectionName(args.collection or settings.collection)
    found, problems = collect_files(args.paths)
    failures: list[tuple[str, str]] = [(str(path), reason) for path, reason in problems]
    components = build_configured(settings, answers=False, synthesis=settings.synth.enabled and not args.no_synth)
    ingestor = components.ingest.ingestor
    synthesis = ingestor.synthesis
    progress = tqdm(total=len(found), unit="doc", file=sys.stderr, disable=args.no_progress or None)
    synth_bar = _SynthesisBar(progress, disabled=args.no_progress)

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
        results = ingestor.ingest(items(), collection=collection, on_progress=on_progress, on_stage=synth_bar.update)
        if any(o.status == "indexed" or o.synthetic is not None for o in results):
            # Build the vector indexes once after the bulk load, so searches do not scan.
            components.search.store.optimize(collection)
    finally:
        progress.close()
        synth_bar.close()
        components.close()
    counts = Counter(o.status for o in outcomes)
    chunks = sum(o.chunks for o in outcomes if o.status == "indexed")
    print(
        f"collection {collection}: {counts['indexed']} documents indexed, {chunks} chunks, "
        f"{counts['unchanged']} skipped-unchanged, {len(failures)} failed"
    )
    _print_synthesis(results, None if synthesis is None else synthesis.teacher)
    for source, reason in failures:
        print(f"  failed: {source}: {reason}")
    return 1 if failures else 0


class _SynthesisBar:
    """Synthesis is the slow stage (a teacher call per chunk): it gets its own bar, in chunks."""

    def __init__(self, documents_bar: tqdm[Any], *, disabled: bool) -> None:
        self._documents_bar = documents_bar
        self._disabled = disabled
        self._bar: tqdm[Any] | None = None

    def update(self, stage: str, done: int, total: int) -> None:
        if stage != "synthesis" or self._disabled:
            return
        if self._bar is None:
            self._documents_bar.close()
            self._bar = tqdm(total=total, unit="chunk", file=sys.stderr, desc="synthesis")
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _print_synthesis(results: list[IngestOutcome], teacher: str | None) -> None:
    """Per-document and total synthesis counts: generated, kept, dropped by which filter stage."""
    synthesized = [o for o in results if o.synthetic is not None]
    if teacher is None:
        print("synthesis: off (--no-synth or SYNTHRAG_SYNTH__ENABLED=false)")
    elif synthesized:
        total = SynthCounts()
        for outcome in synthesized:
            assert outcome.synthetic is not None
            total.add(outcome.synthetic)
            print(f"  {outcome.source} ({outcome.document_id}): {_counts(outcome.synthetic)}")
        print(f"synthesis by {teacher}: {len(synthesized)} documents, {_counts(total)}")
    else:
        print(f"synthesis by {teacher}: every document already up to date")


def _counts(counts: SynthCounts) -> str:
    dropped = ", ".join(f"{reason} {n}" for reason, n in counts.dropped.items())
    failed = f", {counts.chunks_failed} of {counts.chunks} chunks failed" if counts.chunks_failed else ""
    return f"generated {counts.generated}, kept {counts.kept}, dropped: {dropped}{failed}"
