"""Answer-quality measures against reference answers (pure, hand-computed values)."""

from __future__ import annotations

import pytest

from evaluation.answers import (
    citation_precision,
    key_fact_recall,
    key_facts,
    reference_text,
    repeats,
    supports,
    token_f1,
)

REFERENCE = "Product revenue grew 84% year-on-year to $394 million.\n\nSource: Q1 2023 Earning Call, pg 2"


def test_reference_drops_its_source_line() -> None:
    assert reference_text(REFERENCE) == "Product revenue grew 84% year-on-year to $394 million."


def test_key_facts_are_numbers_quarters_and_names() -> None:
    assert key_facts("Revenue grew 84% to $1,394.50 million in Q1, led by Snowpark and AWS.") == {
        "#84",
        "#1394.5",
        "q1",
        "@snowpark",
        "@aws",
    }
    assert key_facts("the answer is unknown.") == set()


def test_key_fact_recall_counts_the_reference_facts_stated() -> None:
    assert key_fact_recall("Product revenue rose 84% to $394M.", REFERENCE) == 1.0
    assert key_fact_recall("It grew 84%.", REFERENCE) == 0.5
    assert key_fact_recall("It grew a lot.", REFERENCE) == 0.0
    assert key_fact_recall("anything", "No figures here.\nSource: N/A") is None


def test_token_f1_is_squad_f1() -> None:
    assert token_f1("Product revenue grew 84% year-on-year to $394 million.", REFERENCE) == 1.0
    # 3 shared words (product, revenue, grew) of 3 answer words and 10 reference words
    # (product revenue grew 84 year on year to 394 million): P 1, R 0.3.
    assert token_f1("Product revenue grew", REFERENCE) == pytest.approx(2 * 0.3 / 1.3)
    assert token_f1("", REFERENCE) == 0.0


def test_citation_precision_counts_spans_with_a_reference_fact() -> None:
    spans = ["product revenue of $394 million", "we hired many people", "up 84% year over year"]
    assert citation_precision(spans, REFERENCE) == pytest.approx(2 / 3)
    assert citation_precision([], REFERENCE) is None
    # Without facts, 30% of the reference's content words must be there.
    plain = "Customers want governance and security.\nSource: x"
    assert supports("they care about governance and security first", plain)
    assert not supports("the weather was fine", plain)


def test_repeats_finds_a_sentence_said_twice() -> None:
    assert repeats("Revenue was up strongly. Margins rose a bit. Revenue was up strongly!")
    assert not repeats("Revenue was up strongly. Margins rose a bit.")
    assert not repeats("Yes. Yes. Yes.")  # too short to count as a repeated sentence
    assert repeats("Snowflake Inc [1]. Snowflake Inc [2].")  # citation markers are not words of the sentence
    assert repeats("Mike P [unsupported]. Then guidance. Mike P [unsupported].")
