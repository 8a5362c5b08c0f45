"""``synthrag eval-answers``: the full answer path over questions with reference answers, per answer mode.

Each question is retrieved once (the service's own plan: same k, mode and diversity as ``/v1/answer``)
and generated at most once: ``generated`` and ``combined`` compose the same model text differently and
``extractive`` needs no model, so the modes are compared on exactly the same sources and draft. A mode's
latency is what a client of that mode waits for: retrieval, then generation where the mode needs it,
then composition.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from answer.compose import Generated
from answer.service import AnswerPlan, AnswerService, finish, needs_model
from app.commands.evaluate_docs import index_docset
from app.components import build_configured
from evaluation.answers import citation_precision, key_fact_recall, reference_text, repeats, token_f1
from evaluation.docset import DocSet, load_docset
from evaluation.paired import paired_comparison
from kernel.errors import InvalidRequestError
from kernel.models import Answer, AnswerMode, GenerationParams
from kernel.settings import Settings


@dataclass(frozen=True)
class Scored:
    """One mode's answer to one question, with its latency and measures."""

    answer: Answer
    seconds: float
    key_fact_recall: float | None
    token_f1: float
    citation_precision: float | None
    context_fact_recall: float | None  # the reference's key facts found in the sources the answer had


def parse_modes(text: str) -> list[AnswerMode]:
    """``generated,extractive,combined`` -> modes, in order, without repeats; 4xx-style error otherwise."""
    modes: list[AnswerMode] = []
    for name in (part.strip() for part in text.split(",")):
        try:
            mode = AnswerMode(name)
        except ValueError:
            choices = ", ".join(m.value for m in AnswerMode)
            raise InvalidRequestError(f"--modes: unknown answer mode {name!r}; choose among {choices}") from None
        if mode not in modes:
            modes.append(mode)
    return modes


def _score(answer: Answer, seconds: float, reference: str) -> Scored:
    text = "" if answer.refused else answer.answer
    return Scored(
        answer=answer,
        seconds=seconds,
        key_fact_recall=key_fact_recall(text, reference),
        token_f1=token_f1(text, reference),
        citation_precision=citation_precision([c.quote for c in answer.citations], reference),
        context_fact_recall=key_fact_recall("\n\n".join(h.text for h in answer.hits), reference),
    )


def answer_modes(
    service: AnswerService, plan: AnswerPlan, params: GenerationParams, modes: list[AnswerMode], planned_s: float
) -> dict[AnswerMode, tuple[Answer, float]]:
    """Each mode's answer to one plan and its latency, from one generation at most."""
    out: dict[AnswerMode, tuple[Answer, float]] = {}
    drafted: tuple[Generated, float] | None = None
    for mode in modes:
        generated, generation_s = None, 0.0
        if needs_model(plan, mode):
            if drafted is None:
                started = time.perf_counter()
                drafted = (service.draft(plan, params), time.perf_counter() - started)
            generated, generation_s = drafted
        started = time.perf_counter()
        answer = finish(plan, mode, generated)
        out[mode] = (answer, planned_s + generation_s + time.perf_counter() - started)
    return out


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def mode_row(
    mode: AnswerMode, docset: DocSet, scored: dict[str, Scored], base: dict[str, Scored] | None
) -> dict[str, Any]:
    """The measures of one mode over its questions (answerable ones for the reference measures)."""
    answerable = {qid: s for qid, s in scored.items() if qid not in docset.unanswerable}
    recall = {qid: s.key_fact_recall for qid, s in answerable.items() if s.key_fact_recall is not None}
    f1 = {qid: s.token_f1 for qid, s in answerable.items()}
    row: dict[str, Any] = {
        "mode": mode.value,
        "questions": len(scored),
        "key_fact_recall": _mean(list(recall.values())),
        "token_f1": _mean(list(f1.values())),
        "citation_precision": _mean([p for s in answerable.values() if (p := s.citation_precision) is not None]),
        "context_fact_recall": _mean([r for s in answerable.values() if (r := s.context_fact_recall) is not None]),
        "repetition_rate": _mean([float(repeats(s.answer.answer)) for s in scored.values()]),
        "refusals": _mean([float(s.answer.refused) for s in answerable.values()]),
        "unanswerable": len(scored) - len(answerable),
        "unanswerable_refused": sum(s.answer.refused for qid, s in scored.items() if qid in docset.unanswerable),
        "stop_reasons": {
            reason: sum(s.answer.stop_reason == reason for s in scored.values())
            for reason in ("stop", "length", "repetition")
        }
        if mode is not AnswerMode.EXTRACTIVE
        else None,
        "shown_extractive": sum(s.answer.mode == "extractive" and not s.answer.refused for s in scored.values()),
        "unsupported_sentences": sum(len(s.answer.unsupported) for s in scored.values()),
        "median_latency_s": round(statistics.median(s.seconds for s in scored.values()), 3) if scored else None,
    }
    if base is not None:
        row["vs_first"] = {
            "key_fact_recall": paired_comparison(
                {q: b.key_fact_recall or 0.0 for q, b in base.items() if q in recall}, recall
            ).as_json()
            if recall
            else None,
            "token_f1": paired_comparison({q: base[q].token_f1 for q in f1}, f1).as_json() if f1 else None,
        }
    return row


def _detail(qid: str, docset: DocSet, mode: AnswerMode, scored: Scored) -> dict[str, Any]:
    answer = scored.answer
    return {
        "id": qid,
        "question": docset.queries[qid],
        "reference": reference_text(docset.answers[qid]),
        "mode": mode.value,
        "answer": answer.answer,
        "shown": answer.mode,
        "refused": answer.refused,
        "stop_reason": answer.stop_reason,
        "unsupported": answer.unsupported,
        "quotes": [c.quote for c in answer.citations],
        "sources": [h.source for h in answer.hits],
        "key_fact_recall": scored.key_fact_recall,
        "token_f1": scored.token_f1,
        "citation_precision": scored.citation_precision,
        "context_fact_recall": scored.context_fact_recall,
        "seconds": round(scored.seconds, 3),
    }


def run_eval_answers(args: argparse.Namespace, settings: Settings) -> int:
    """Answer every question with a reference answer in each mode; print the measures side by side."""
    modes = parse_modes(args.modes)
    docset = load_docset(args.dataset, args.queries)
    questions = sorted(docset.answers)
    if args.limit is not None:
        if args.limit < 1:
            raise InvalidRequestError(f"--limit must be at least 1, got {args.limit}")
        questions = questions[: args.limit]
    if not questions:
        raise InvalidRequestError(f"{args.queries or args.dataset}: no question has a reference answer ('answer')")
    components = build_configured(settings, answers=True, synthesis=False)
    scored: dict[AnswerMode, dict[str, Scored]] = {mode: {} for mode in modes}
    try:
        collection = index_docset(docset, components)
        service = components.answer_service()
        params = service.params()
        for qid in tqdm(questions, unit="question", file=sys.stderr, desc="answering", leave=False):
            started = time.perf_counter()
            plan = service.plan(docset.queries[qid], collection=collection)
            planned_s = time.perf_counter() - started
            for mode, (answer, seconds) in answer_modes(service, plan, params, modes, planned_s).items():
                scored[mode][qid] = _score(answer, seconds, docset.answers[qid])
    finally:
        components.close()
    first = scored[modes[0]]
    rows = [mode_row(mode, docset, scored[mode], first if i else None) for i, mode in enumerate(modes)]
    if args.details is not None:
        _write_details(args.details, docset, modes, scored)
    if args.json:
        model = settings.llm.model_path or "bundled"
        print(
            json.dumps(
                {"dataset": str(args.dataset), "questions": len(questions), "model": str(model), "results": rows}
            )
        )
        return 0
    print(f"dataset={args.dataset} questions={len(questions)} (unanswerable {rows[0]['unanswerable']})")
    for row in rows:
        print(" ".join(f"{key}={value}" for key, value in row.items() if key != "vs_first"))
        for measure, comparison in (row.get("vs_first") or {}).items():
            if comparison:
                low, high = comparison["delta_ci"]
                print(
                    f"  {measure} vs {modes[0].value}: {comparison['delta']:+.4f} [{low:+.4f}, {high:+.4f}] "
                    f"wins/ties/losses {comparison['wins']}/{comparison['ties']}/{comparison['losses']}"
                )
    return 0


def _write_details(
    path: Path, docset: DocSet, modes: list[AnswerMode], scored: dict[AnswerMode, dict[str, Scored]]
) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for mode in modes:
            for qid, item in scored[mode].items():
                handle.write(json.dumps(_detail(qid, docset, mode, item), ensure_ascii=False) + "\n")
