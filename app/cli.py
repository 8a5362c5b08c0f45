"""The ``synthrag`` command line: ingest, inspect, search, ask, eval, worker, serve."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from app.observability import configure_logging
from kernel.errors import SynthragError
from kernel.models import SearchMode
from kernel.settings import configure_offline, get_settings

MODES = [m.value for m in SearchMode]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per verb."""
    parser = argparse.ArgumentParser(prog="synthrag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="parse, chunk, embed and store files or folders")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--collection", help="target collection (default: SYNTHRAG_COLLECTION)")
    ingest.add_argument("--tag", action="append", default=[], dest="tags", help="tag the documents (repeat)")
    ingest.add_argument("--no-progress", action="store_true", help="no progress bar")
    ingest.add_argument("--no-synth", action="store_true", help="skip synthetic knowledge (no teacher calls)")

    inspect = sub.add_parser("inspect", help="show a document's synthetic items, kept and dropped (with reasons)")
    inspect.add_argument("document_id", metavar="DOCUMENT_ID")
    inspect.add_argument("--collection")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")

    search = sub.add_parser("search", help="search a collection")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--collection")
    search.add_argument("--k", type=int, default=None, help="number of hits")
    search.add_argument("--mode", choices=MODES, default=None)
    search.add_argument("--json", action="store_true", help="print JSON")

    ask = sub.add_parser("ask", help="answer a question from a collection, with citations")
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("--collection")
    ask.add_argument("--json", action="store_true", help="print JSON: answer, citations, hits")

    ev = sub.add_parser("eval", help="measure retrieval quality on a BEIR-format dataset")
    _dataset_arguments(ev)
    ev.add_argument("--mode", choices=MODES, default=None)
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument(
        "--synthetic",
        action="store_true",
        help="also synthesize and report raw vs synthetic re-ranking and expansion side by side, with paired intervals",
    )
    ev.add_argument(
        "--adapt",
        default=None,
        metavar="TRAIN_SPLIT",
        help="adapt the embedder on TRAIN_SPLIT's qrels (+ synthetic pairs) and compare base vs adapted per mode; "
        "TRAIN_SPLIT = the evaluated split needs --folds",
    )
    ev.add_argument("--folds", type=int, default=None, metavar="N", help="with --adapt: N-fold cross-validation")
    ev.add_argument("--no-progress", action="store_true", help="no progress bars")
    ev.add_argument(
        "--diversity",
        action="store_true",
        help="compare the mode with MMR and each diversity re-ordering: nDCG@10, and on queries with several "
        "relevant documents doc recall@5 and alpha-nDCG@5, paired per query; near-duplicates in the answer context",
    )

    _document_eval_parsers(sub.add_parser)

    _adapt_parser(sub.add_parser)

    cal = sub.add_parser("calibrate", help="fit the teacher profile's strengths on a train split by paired comparison")
    _dataset_arguments(cal)
    cal.add_argument("--json", action="store_true", help="print one JSON object")
    cal.add_argument(
        "--write-profile", type=Path, default=None, metavar="FILE", help="also write the fitted profile to FILE"
    )
    cal.add_argument(
        "--collection",
        action="append",
        default=[],
        metavar="C",
        help="also record the fitted profile with collection C (repeatable; the open service's names)",
    )

    worker = sub.add_parser("worker", help="run ingest workers in this process (jobs from uploads)")
    worker.add_argument("--threads", type=int, default=1, help="worker threads in this process")
    worker.add_argument("--exit-when-idle", action="store_true", help="stop once the queue is empty")

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    return parser


def _adapt_parser(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """``adapt``: embedder adaptation of one collection."""
    adapt = add_parser(
        "adapt", help="fine-tune the embedder for a collection on its pairs; switch searches to it past a gate"
    )
    adapt.add_argument("--collection", help="collection to adapt (default: SYNTHRAG_COLLECTION)")
    adapt.add_argument("--pairs", type=Path, default=None, metavar="FILE", help="labelled pairs, JSONL")
    adapt.add_argument("--qrels", type=Path, default=None, metavar="DIR", help="labelled pairs from a BEIR folder")
    adapt.add_argument("--split", default=None, help="the --qrels split to train on")
    adapt.add_argument("--no-synthetic", action="store_true", help="do not train on synthetic questions")
    adapt.add_argument("--revert", action="store_true", help="make searches use the base model again")
    adapt.add_argument("--status", action="store_true", help="print the active space and the last report")
    adapt.add_argument("--json", action="store_true", help="print the report as JSON")
    adapt.add_argument("--no-progress", action="store_true", help="no progress bars")


def _document_eval_parsers(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """``eval-docs`` and ``eval-answers``: measures over a folder of real files with questions."""
    docs = add_parser(
        "eval-docs", help="measure a relevant document in the top k on a folder of real files with judged questions"
    )
    docs.add_argument("--dataset", required=True, type=Path, metavar="DIR", help="docs/, queries.jsonl, qrels.tsv")
    docs.add_argument(
        "--queries", type=Path, default=None, metavar="FILE", help="another JSONL of questions over the same docs/"
    )
    docs.add_argument("--mode", choices=MODES, default=None)
    docs.add_argument("--k", type=int, default=5, help="hits that count (default 5)")
    docs.add_argument(
        "--compare",
        action="store_true",
        help="measure plain, +context headers and +query period/organisation side by side, paired per question",
    )
    docs.add_argument("--json", action="store_true", help="print one JSON object")

    ans = add_parser(
        "eval-answers", help="measure answers against reference answers, per answer mode, on a folder of real files"
    )
    ans.add_argument(
        "--dataset", required=True, type=Path, metavar="DIR", help="docs/ and queries.jsonl with reference answers"
    )
    ans.add_argument(
        "--queries", type=Path, default=None, metavar="FILE", help="another JSONL of questions over the same docs/"
    )
    ans.add_argument(
        "--modes",
        default="generated,extractive,combined",
        metavar="M,M",
        help="answer modes to compare (default generated,extractive,combined; the first is the paired baseline)",
    )
    ans.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N questions (by id)")
    ans.add_argument(
        "--details", type=Path, default=None, metavar="FILE", help="also write every answer with its measures (JSONL)"
    )
    ans.add_argument("--json", action="store_true", help="print one JSON object")


def _dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The dataset and sample options of ``eval`` and ``calibrate``."""
    parser.add_argument("--dataset", required=True, type=Path, metavar="DIR")
    parser.add_argument("--split", required=True, metavar="S")
    parser.add_argument("--sample-docs", type=int, default=None, metavar="N", help="use a sample of N documents")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the document sample")
    parser.add_argument(
        "--max-relevant-share",
        type=float,
        default=None,
        metavar="F",
        help="with --sample-docs: at most this share (0-1] of the sample is judged relevant, the rest distractors",
    )
    parser.add_argument(
        "--synth-top-n",
        type=int,
        default=None,
        metavar="N",
        help="synthesize only the chunks in the raw top N of the evaluated queries (N >= the re-rank depth is exact)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    configure_offline()
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "ingest":
            from app.commands.ingest import run_ingest

            return run_ingest(args, settings)
        if args.command == "search":
            from app.commands.search import run_search

            return run_search(args, settings)
        if args.command == "ask":
            from app.commands.ask import run_ask

            return run_ask(args, settings)
        if args.command == "worker":
            from app.commands.worker import run_worker

            return run_worker(args, settings)
        if args.command == "inspect":
            from app.commands.inspect import run_inspect

            return run_inspect(args, settings)
        if args.command == "calibrate":
            from app.commands.calibrate import run_calibrate

            return run_calibrate(args, settings)
        if args.command == "eval-docs":
            from app.commands.evaluate_docs import run_eval_docs

            return run_eval_docs(args, settings)
        if args.command == "eval-answers":
            from app.commands.evaluate_answers import run_eval_answers

            return run_eval_answers(args, settings)
        if args.command == "adapt":
            from app.commands.adapt import run_adapt

            return run_adapt(args, settings)
        if args.command == "eval":
            from app.commands.evaluate import run_eval

            return run_eval(args, settings)
        from app.commands.serve import run_serve

        return run_serve(args, settings)
    except SynthragError as exc:
        print(f"synthrag: error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
