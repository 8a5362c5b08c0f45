"""Citation mapping against hand-made hits: valid markers, dropped ones, exact spans."""

from __future__ import annotations

from answer.citations import attribute, best_quote, map_citations
from kernel.models import Hit

DOC = "Intro line.\n\nBees make honey from nectar. Honey is stored in wax cells. Wasps do not make honey."
CHUNK_START = DOC.index("Bees")
CHUNK = DOC[CHUNK_START:]


def _hits() -> list[Hit]:
    return [
        Hit(id="1", score=1, text=CHUNK, document_id="d1", source="bees.txt", start=CHUNK_START, end=len(DOC)),
        Hit(
            id="2",
            score=1,
            text="Chess is a board game.",
            document_id="d2",
            source="chess.md",
            start=0,
            end=22,
        ),
    ]


def test_markers_map_to_exact_document_spans() -> None:
    text, citations, invalid = map_citations("Honey is kept in wax cells [1]. Chess is a game [2].", _hits())
    assert invalid == []
    assert text == "Honey is kept in wax cells [1]. Chess is a game [2]."
    assert [c.number for c in citations] == [1, 2]
    first = citations[0]
    assert first.quote == "Honey is stored in wax cells."
    assert first.start is not None and first.end is not None
    assert DOC[first.start : first.end] == first.quote
    assert first.source == "bees.txt"


def test_markers_pointing_at_nothing_are_dropped_and_reported() -> None:
    text, citations, invalid = map_citations("Bees make honey [1, 7]. Nonsense [9].", _hits())
    assert text == "Bees make honey [1]. Nonsense."
    assert invalid == [7, 9]
    assert [c.number for c in citations] == [1]


def test_uncited_answer_gets_markers_where_it_matches_a_source() -> None:
    text, citations, _ = map_citations("Bees make honey from nectar. The moon is far away.", _hits())
    assert text.startswith("Bees make honey from nectar [1].")
    assert "moon is far away." in text and text.count("[") == 1
    assert citations[0].quote == "Bees make honey from nectar."


def test_attribute_needs_real_overlap() -> None:
    assert attribute("Something else entirely.", _hits()) == "Something else entirely."


def test_best_quote_falls_back_to_whole_text() -> None:
    assert best_quote("Alpha beta.", "unrelated") == (0, len("Alpha beta."))
