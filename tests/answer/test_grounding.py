"""Grounding check, answer composition in each mode, and extractive quotes (pure, on hand-made hits)."""

from __future__ import annotations

from answer.compose import UNSUPPORTED_MARK, Generated, compose, mark
from answer.extractive import extract
from answer.grounding import check, support
from kernel.models import AnswerMode, Hit
from knowledge.filter import content_words

BEES = "Beekeepers inspect the brood frames every week in spring. A hive holds one queen and 300 drones."
HONEY = "Honey is harvested in late summer. The extractor spins the frames so that the honey flies out."
START = 40


def _hits() -> list[Hit]:
    return [
        Hit(id="1", score=1, text=BEES, document_id="bees", source="bees.txt", start=START, end=START + len(BEES)),
        Hit(id="2", score=0.9, text=HONEY, document_id="honey", source="honey.txt", start=0, end=len(HONEY)),
    ]


def test_a_sentence_made_of_source_words_is_supported_by_that_source() -> None:
    sources = [content_words(BEES), content_words(HONEY)]
    assert support("Honey is harvested in late summer.", sources) == 2
    assert support("1. Beekeepers inspect brood frames every week [1].", sources) == 1


def test_a_number_missing_from_the_source_makes_a_sentence_unsupported() -> None:
    sources = [content_words(BEES)]
    assert support("A hive holds one queen and 300 drones.", sources) == 1
    assert support("A hive holds one queen and 500 drones.", sources) is None


def test_words_from_no_source_make_a_sentence_unsupported() -> None:
    grounding = check("Honey is harvested in late summer. Bees navigate by polarised sunlight patterns.", _hits())
    assert [s.source for s in grounding.sentences] == [2, None]
    assert grounding.unsupported == ["Bees navigate by polarised sunlight patterns."]
    assert grounding.supported == 1 and grounding.passes()


def test_an_answer_mostly_unsupported_fails() -> None:
    text = "Honey is harvested in late summer. Bees dance at dawn. Wasps sting 40 times."
    assert not check(text, _hits()).passes()
    assert not check("", _hits()).passes()


def test_combined_drops_unsupported_sentences_and_cites_the_rest() -> None:
    generated = Generated(
        text="Honey is harvested in late summer. A hive holds 12 queens. The extractor spins the frames."
    )
    answer = compose("When is honey harvested?", _hits(), generated, AnswerMode.COMBINED)
    assert answer.mode == "generated"
    assert answer.unsupported == ["A hive holds 12 queens."]
    assert "12" not in answer.answer
    assert answer.answer == "Honey is harvested in late summer [2]. The extractor spins the frames [2]."
    assert [c.number for c in answer.citations] == [2]
    assert answer.citations[0].quote in HONEY


def test_generated_mode_keeps_unsupported_sentences_marked() -> None:
    generated = Generated(text="Honey is harvested in late summer. A hive holds 12 queens.", stop_reason="length")
    answer = compose("When is honey harvested?", _hits(), generated, AnswerMode.GENERATED)
    assert answer.answer == f"Honey is harvested in late summer [2]. A hive holds 12 queens {UNSUPPORTED_MARK}."
    assert answer.unsupported == ["A hive holds 12 queens."]
    assert answer.stop_reason == "length"


def test_combined_falls_back_to_quotes_when_the_generation_is_not_grounded() -> None:
    generated = Generated(
        text="Bees dance at dawn. Wasps sting 40 times.", stop_reason="repetition", completion_tokens=9
    )
    answer = compose("When is honey harvested?", _hits(), generated, AnswerMode.COMBINED)
    assert answer.mode == "extractive" and not answer.refused
    assert answer.stop_reason == "repetition" and answer.completion_tokens == 9
    assert answer.answer.startswith("Honey is harvested in late summer. [2]")
    empty = compose("When is honey harvested?", _hits(), Generated(text=""), AnswerMode.COMBINED)
    assert empty.mode == "extractive"
    assert compose("When is honey harvested?", _hits(), Generated(text=""), AnswerMode.GENERATED).refused


def test_extractive_quotes_are_exact_spans() -> None:
    text, citations = extract("How does the extractor get the honey out of the frames?", _hits())
    assert citations and text.endswith(f"[{citations[0].number}]")
    for citation in citations:
        hit = _hits()[citation.number - 1]
        assert hit.start is not None and citation.start is not None and citation.end is not None
        assert hit.text[citation.start - hit.start : citation.end - hit.start] == citation.quote
        assert citation.quote in text
    assert citations[0].quote == "The extractor spins the frames so that the honey flies out."


def test_extractive_without_shared_words_quotes_the_top_hit() -> None:
    text, citations = extract("Why?", _hits())
    assert text == "Beekeepers inspect the brood frames every week in spring. [1]"
    assert citations[0].start == START


def test_mark_goes_before_closing_punctuation() -> None:
    assert mark("Bees swarm.", "[2]") == "Bees swarm [2]."
    assert mark("Bees swarm [1].", "[x]") == "Bees swarm [1] [x]."
    assert mark("Bees swarm", "[2]") == "Bees swarm [2]"


def test_extractive_quotes_a_sentence_once_when_chunks_overlap_or_documents_repeat_it() -> None:
    first = "The call opened at noon. Azure took share, as customers chose our\ncomputing fabric."
    second = "Azure took share, as customers chose our\ncomputing fabric. The rest was guidance."
    other = "Operator notes. Azure took share, as customers chose our computing fabric!"
    offset = first.index("Azure")
    hits = [
        Hit(id="a", score=1, text=first, document_id="q3", source="q3.pdf", start=0, end=len(first)),
        Hit(id="b", score=0.9, text=second, document_id="q3", source="q3.pdf", start=offset, end=offset + len(second)),
        Hit(id="c", score=0.8, text=other, document_id="q2", source="q2.pdf", start=0, end=len(other)),
    ]
    text, citations = extract("Did Azure take share from customers?", hits)
    assert text.count("Azure took share") == 1
    assert [c.number for c in citations] == [1]


def test_extractive_quotes_the_answer_not_the_analyst_s_question_or_the_greeting() -> None:
    text = (
        "Good afternoon and thank you for joining the Q3 2023 Acme Inc. earnings call today. "
        "Mike, how did product revenue grow in Q3 2023 compared with last year? "
        "Product revenue grew 84% to $394 million, driven by large customers. "
        "Mike Scarpelli Acme Inc."
    )
    hits = [
        Hit(
            id="1",
            score=1,
            text=text,
            document_id="q3",
            source="q3.pdf",
            title="Q3 2023 Acme Inc. Earnings Call",
            context="Acme Inc. | Q3 2023",
            start=0,
            end=len(text),
        )
    ]
    answer, citations = extract("How much did product revenue grow in Q3 2023 at Acme?", hits)
    assert answer == "Product revenue grew 84% to $394 million, driven by large customers. [1]"
    assert citations[0].quote in text
