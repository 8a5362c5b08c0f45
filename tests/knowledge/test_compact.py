"""parse_compact: the line-tagged chunk notes of prompt chunk.v2, including what small models break."""

from __future__ import annotations

import pytest

from kernel.errors import ModelError
from knowledge.compact import parse_compact
from knowledge.normalize import normalize_chunk
from knowledge.schemas import QUERIES_MAX_ITEMS, QUERY_MAX, ChunkNotes

GOOD = """K: aspirin; colorectal cancer; nurses
S: Regular aspirin use lowered the risk of colorectal cancer by 40%.
Q: How much did aspirin lower colorectal cancer risk? | A: by 40%
Q: Who was followed in the cohort? | A: 80,000 nurses
R: aspirin colorectal cancer risk
R: Aspirin reduces the risk of colorectal cancer."""


def test_well_formed_notes_parse_and_validate() -> None:
    raw = parse_compact(GOOD)
    assert raw["keywords"] == ["aspirin", "colorectal cancer", "nurses"]
    assert raw["summary"].startswith("Regular aspirin")
    assert raw["questions"][1] == {"question": "Who was followed in the cohort?", "answer": "80,000 nurses"}
    assert raw["queries"] == ["aspirin colorectal cancer risk", "Aspirin reduces the risk of colorectal cancer."]
    notes = ChunkNotes.model_validate(normalize_chunk(raw, questions=2))
    assert len(notes.questions) == 2 and len(notes.queries) == 2


def test_bullets_bold_tags_long_names_and_separate_answer_lines() -> None:
    text = "- **K**: bees, hive\n1. Summary: Bees keep the hive warm.\nQuestion: How warm is the hive?\nA: 35 degrees\n"
    raw = parse_compact(text)
    assert raw["keywords"] == ["bees", "hive"]
    assert raw["summary"] == "Bees keep the hive warm."
    assert raw["questions"] == [{"question": "How warm is the hive?", "answer": "35 degrees"}]


def test_duplicated_tags_first_summary_wins_keywords_add_up() -> None:
    raw = parse_compact("S: first summary here\nS: second summary\nK: a; b\nK: c")
    assert raw["summary"] == "first summary here"
    assert raw["keywords"] == ["a", "b", "c"]


def test_partial_lines_question_without_answer_is_dropped() -> None:
    raw = parse_compact(
        "K: bees\nS: Bees keep warm.\nQ: How warm is the hive?\nQ: What do bees eat? | A: nectar\nQ: cut off"
    )
    assert raw["questions"] == [{"question": "What do bees eat?", "answer": "nectar"}]


def test_garbage_without_any_tag_is_an_error() -> None:
    with pytest.raises(ModelError, match="no tagged line"):
        parse_compact("The passage provides evidence of something.\nIt is very interesting.")
    with pytest.raises(ModelError):
        parse_compact("")


def test_tagged_but_incomplete_output_fails_validation_not_parsing() -> None:
    raw = parse_compact("K: bees\nR: bees in winter hives")
    with pytest.raises(ValueError):  # pydantic ValidationError: no summary, no question
        ChunkNotes.model_validate(normalize_chunk(raw, questions=2))


def test_overlong_and_surplus_items_are_clipped_by_normalization() -> None:
    text = GOOD + "\nR: " + "x" * 300 + "\nR: one more query line\nK: " + "; ".join(f"k{i}" for i in range(20))
    notes = ChunkNotes.model_validate(normalize_chunk(parse_compact(text), questions=1))
    assert len(notes.questions) == 1
    assert len(notes.queries) == QUERIES_MAX_ITEMS
    assert all(len(q) <= QUERY_MAX for q in notes.queries)
    assert len(notes.keywords) == 4


def test_v1_json_notes_without_queries_still_validate() -> None:
    raw = {"keywords": ["bees"], "summary": "Bees keep warm.", "questions": [{"question": "How warm?", "answer": "35"}]}
    assert ChunkNotes.model_validate(normalize_chunk(raw, questions=2)).queries == []
