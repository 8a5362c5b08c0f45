"""The pure parts of ``eval-answers``: answer modes from the command line and one mode's row of measures."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.commands.evaluate_answers import Scored, mode_row, parse_modes
from evaluation.docset import DocSet
from kernel.errors import InvalidRequestError
from kernel.models import Answer, AnswerMode


def test_modes_keep_their_order_once_each() -> None:
    assert parse_modes("combined, extractive,combined") == [AnswerMode.COMBINED, AnswerMode.EXTRACTIVE]
    with pytest.raises(InvalidRequestError, match="choose among generated, extractive, combined"):
        parse_modes("generated,loud")


def _scored(text: str, *, recall: float | None, f1: float, refused: bool = False, seconds: float = 1.0) -> Scored:
    answer = Answer(answer=text, citations=[], hits=[], refused=refused, stop_reason="repetition")
    return Scored(
        answer=answer,
        seconds=seconds,
        key_fact_recall=recall,
        token_f1=f1,
        citation_precision=None,
        context_fact_recall=recall,
    )


def test_a_row_leaves_unanswerable_questions_out_of_the_reference_measures() -> None:
    docset = DocSet(
        root=Path("."),
        files=[],
        queries={"a": "?", "b": "?", "c": "?"},
        qrels={},
        answers={"a": "x", "b": "y", "c": "N/A"},
        unanswerable=frozenset({"c"}),
    )
    scored = {
        "a": _scored("It rose 84%. It rose 84%.", recall=1.0, f1=0.5, seconds=1.0),
        "b": _scored("No.", recall=0.0, f1=0.0, seconds=3.0),
        "c": _scored("I cannot answer.", recall=None, f1=0.1, refused=True, seconds=2.0),
    }
    base = {q: _scored("", recall=0.0, f1=0.0) for q in scored}
    row = mode_row(AnswerMode.GENERATED, docset, scored, base)
    assert row["key_fact_recall"] == 0.5
    assert row["context_fact_recall"] == 0.5
    assert row["token_f1"] == 0.25
    assert row["refusals"] == 0.0
    assert (row["unanswerable"], row["unanswerable_refused"]) == (1, 1)
    assert row["repetition_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert row["stop_reasons"] == {"stop": 0, "length": 0, "repetition": 3}
    assert row["median_latency_s"] == 2.0
    assert row["vs_first"]["key_fact_recall"]["delta"] == 0.5
    assert row["vs_first"]["token_f1"]["n"] == 2
