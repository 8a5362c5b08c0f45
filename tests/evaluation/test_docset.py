"""Document-folder datasets: question files with or without ids, reference answers, unanswerable questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.beir import DatasetFormatError
from evaluation.docset import load_docset


def _folder(root: Path, records: list[dict[str, object]]) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("Alpha text.")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return root


def test_answers_ids_and_unanswerable_questions(tmp_path: Path) -> None:
    docset = load_docset(
        _folder(
            tmp_path,
            [
                {"_id": "q1", "text": "What is alpha?", "answer": "Alpha is text.", "source_docs": ["a.txt"]},
                {"question": "Who leased?", "answer": "Nothing says.\n\nSource: N/A", "answerable": False},
            ],
        )
    )
    assert docset.queries == {"q1": "What is alpha?", "line2": "Who leased?"}
    assert docset.answers["line2"].startswith("Nothing says.")
    assert docset.unanswerable == frozenset({"line2"})
    assert docset.qrels == {"q1": {"a.txt"}}


def test_a_record_without_a_question_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"queries.jsonl:2: .*needs 'text' or 'question'"):
        load_docset(_folder(tmp_path, [{"text": "ok"}, {"answer": "no question"}]))
