"""Periods and organisations read from titles, file names and queries (pure)."""

from __future__ import annotations

import pytest

from retrieval.periods import (
    Period,
    asks_latest,
    document_organisation,
    document_period,
    find_organisations,
    find_periods,
)


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("How much did product revenue grow in Q1 Fiscal 2023?", ["Q1 2023"]),
        ("Q3 FY23 Microsoft Corp Earnings Call", ["Q3 2023"]),
        ("Q2'23 results", ["Q2 2023"]),
        ("results for 2022 Q4", ["Q4 2022"]),
        ("revenue in the third quarter of fiscal 2022", ["Q3 2022"]),
        ("the 2nd quarter 2021 call", ["Q2 2021"]),
        ("FY23 outlook and fiscal year 2024 guidance", ["FY 2023", "FY 2024"]),
        ("Q1 2023 vs Q1 2022", ["Q1 2023", "Q1 2022"]),
        ("no period here, just 42 widgets and Q5 9999", []),
    ],
)
def test_find_periods(text: str, labels: list[str]) -> None:
    assert [p.label for p in find_periods(text)] == labels


def test_document_period_prefers_the_first_source_that_names_a_quarter() -> None:
    assert document_period("Annual report", "acme-q2-2023.pdf", "Results of Q2 2023") == Period(2023, 2)
    assert document_period("Q4 2020 Acme Inc. Earnings Call", "x.pdf", "Q1 2021 outlook") == Period(2020, 4)
    assert document_period("Fiscal 2022 annual report", "report.pdf", "no quarter") == Period(2022)
    assert document_period("Minutes", "minutes.pdf", "nothing") is None


def test_periods_order_by_time() -> None:
    assert max([Period(2022, 4), Period(2023, 1), Period(2021)], key=Period.sort_key) == Period(2023, 1)
    assert Period(2023).sort_key() > Period(2023, 4).sort_key()


def test_latest_is_recognised() -> None:
    assert asks_latest("What did they say in the most recent quarter?")
    assert asks_latest("latest call: churn")
    assert not asks_latest("What was the quarter's revenue?")


def test_organisation_is_the_company_not_the_people_before_it() -> None:
    opening = (
        "Corporate Participants\nFrank Slootman Snowflake Inc. - CEO\nJimmy Sexton Snowflake Inc. - IR\n"
        "Conference Call Participants\nKeith Weiss Morgan Stanley, Research Division\nBrad Zelnick Deutsche Bank AG\n"
    )
    assert document_organisation("Q1 2023 Snowflake Inc. Earnings Call", opening) == "Snowflake"
    assert document_organisation("Q3 FY23 Microsoft Corp Earnings Call", "") == "Microsoft"
    assert document_organisation("Meeting notes", "nobody named") is None


def test_section_labels_and_common_words_are_not_organisations() -> None:
    text = "OBJECTIVE Ltd. OBJECTIVE Ltd. Melanoma Is Inc. Melanoma Is Inc. IBM Corp. IBM Corp."
    assert set(find_organisations(text)) == {"IBM"}
    assert not find_periods("F 12 and F 2010 are statistics")
