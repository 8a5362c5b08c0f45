"""``synthrag eval-answers``: the full answer path over questions with reference answers, per answer mode."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from tqdm import tqdm

from app.commands.evaluate_docs import index_docset
from app.components import build_configured
from evaluation.answers import citation_precision, key_fact_recall, repeats, token_f1
from evaluation.docset import DocSet, load_docset
from kernel.errors import InvalidRequestError
from kernel.models import Answer, AnswerMode
from kernel.settings import Settings


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _row(mode: AnswerMode, docset: DocSet, answers: dict[str, tuple[Answer, float]]) -> dict[str, Any]:
    """The measures of one mode over every question it answered."""
    recall: list[float] = []
    f1: list[float] = []
    precision: list[float] = []
    unanswerable = [qid for qid in answers if not docset.qrels.get(qid) and "N/A" in docset.answers[qid]]
    for qid, (answer, _) in answers.items():
        reference = docset.answers[qid]
        if qid in unanswerable:
            continue
        text = "" if answer.refused else answer.answer
        if (r := key_fact_recall(text, reference)) is not None:
            recall.append(r)
        f1.append(token_f1(text, reference))
        if (p := citation_precision([c.quote for c in answer.citations], reference)) is not None:
            precision.append(p)
    latencies = [seconds for _, seconds in answers.values()]
    return {
        "mode": mode.value,
        "questions": len(answers),
        "key_fact_recall": _mean(recall),
        "token_f1": _mean(f1),
        "citation_precision": _mean(precision),
        "repetition_rate": _mean([float(repeats(a.answer)) for a, _ in answers.values()]),
        "refusals": _mean([float(a.refused) for a, _ in answers.values()]),
        "unanswerable_refused": sum(answers[qid][0].refused for qid in unanswerable),
        "unanswerable": len(unanswerable),
        "stopped_for_repetition": sum(a.stop_reason == "repetition" for a, _ in answers.values()),
        "fell_back_to_extractive": sum(
            mode is AnswerMode.COMBINED and a.mode == "extractive" and not a.refused for a, _ in answers.values()
        ),
        "median_latency_s": round(statistics.median(latencies), 3) if latencies else None,
    }


def run_eval_answers(args: argparse.Namespace, settings: Settings) -> int:
    """Answer every question with a reference answer in each mode; print the measures side by side."""
    docset = load_docset(args.dataset, args.queries)
    questions = sorted(docset.answers)[: args.limit] if args.limit else sorted(docset.answers)
    if not questions:
        raise InvalidRequestError(f"{args.queries or args.dataset}: no question has a reference answer ('answer')")
    try:
        modes = [AnswerMode(m.strip()) for m in args.modes.split(",")]
    except ValueError as e:
        choices = ", ".join(m.value for m in AnswerMode)
        raise InvalidRequestError(f"--modes: {e}; choose among {choices}") from e
    components = build_configured(settings, answers=True, synthesis=False)
    rows = []
    try:
        collection = index_docset(docset, components)
        service = components.answer_service
        params = service.params()
        for mode in modes:
            answers: dict[str, tuple[Answer, float]] = {}
            for qid in tqdm(questions, unit="question", file=sys.stderr, desc=mode.value, leave=False):
                started = time.perf_counter()
                plan = service.plan(docset.queries[qid], collection=collection)
                answers[qid] = (service.generate(plan, params, mode=mode), time.perf_counter() - started)
            rows.append(_row(mode, docset, answers))
    finally:
        components.close()
    if args.json:
        print(json.dumps({"dataset": str(args.dataset), "model": settings.llm.model_path or "bundled", "results": rows}))
        return 0
    print(f"dataset={args.dataset} questions={len(questions)}")
    for row in rows:
        print(" ".join(f"{key}={value}" for key, value in row.items()))
    return 0
