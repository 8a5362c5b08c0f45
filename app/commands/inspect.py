"""``synthrag inspect``: a document's synthetic knowledge, kept and dropped items with the reason for each drop."""

from __future__ import annotations

import argparse

from kernel.errors import NotFoundError
from kernel.settings import Settings, configure_offline
from kernel.tenancy import CollectionName
from knowledge.cache import open_synth_db
from knowledge.reports import ReportStore, SyntheticReport


def run_inspect(args: argparse.Namespace, settings: Settings) -> int:
    """Print the synthesis report of one document; exit 2 (via NotFoundError) when there is none."""
    configure_offline()
    collection = CollectionName(args.collection or settings.collection)
    report = ReportStore(open_synth_db(settings.data_dir)).get(collection, args.document_id)
    if report is None:
        raise NotFoundError(
            f"no synthetic knowledge for document {args.document_id} in collection {collection}: it was never "
            "synthesized (ingested with --no-synth?) or the id is wrong (`synthrag ingest` prints the ids)"
        )
    print(report.model_dump_json(indent=2) if args.json else format_report(report))
    return 0


def format_report(report: SyntheticReport) -> str:
    """A readable report: counts, document notes, then every item with its fate."""
    c = report.counts
    lines = [
        f"document {report.document_id} (version {report.doc_version})",
        f"teacher {report.teacher}, prompts {report.prompt_version}",
        f"chunks {c.chunks} ({c.chunks_cached} from cache, {c.chunks_failed} failed); items generated {c.generated}, "
        f"kept {c.kept}, dropped " + ", ".join(f"{reason} {n}" for reason, n in c.dropped.items()),
    ]
    if report.document is not None:
        d = report.document
        lines.append(f"title: {d.title} | type: {d.type} | summary: {d.summary}")
    elif report.document_error:
        lines.append(f"document notes failed: {report.document_error}")
    for failure in report.failures:
        lines.append(f"  FAILED chunk {failure.chunk_index}: {failure.error}")
    for item in report.items:
        where = f"chunk {item.chunk_index}" if item.chunk_index is not None else "document"
        fate = "kept   " if item.kept else f"DROPPED ({item.reason})"
        answer = f" -> {item.answer}" if item.answer else ""
        detail = f"  [{item.detail}]" if item.detail else ""
        lines.append(f"  {fate} {item.kind:<16} {where:<9} {item.text}{answer}{detail}")
    return "\n".join(lines)
