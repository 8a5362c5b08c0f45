"""Query periods/organisations matched against a collection's documents (pure)."""

from __future__ import annotations

from kernel.models import Hit, SearchFilters
from retrieval.preference import (
    QueryInterpretation,
    interpret,
    merge_context,
    prefer,
    preference_filters,
)

PERIODS = ["Q4 2020", "Q3 2021", "Q1 2022", "Q2 2022", "Q1 2023", "Q3 2023"]
ORGS = ["Microsoft", "Snowflake"]


def test_a_named_quarter_prefers_its_documents() -> None:
    reading = interpret("product revenue in Q1 Fiscal 2023?", periods=PERIODS, organisations=ORGS)
    assert reading.periods == ["Q1 2023"]
    assert reading.active and not reading.latest


def test_a_fiscal_year_prefers_all_its_quarters() -> None:
    assert interpret("FY22 margins", periods=PERIODS, organisations=ORGS).periods == ["Q1 2022", "Q2 2022"]


def test_the_latest_quarter_is_the_newest_document_period() -> None:
    reading = interpret("What was said on the most recent call?", periods=PERIODS, organisations=ORGS)
    assert reading.latest and reading.periods == ["Q3 2023"]


def test_periods_no_document_has_prefer_nothing() -> None:
    assert not interpret("results of Q2 2019", periods=PERIODS, organisations=ORGS).active


def test_organisations_are_matched_by_name_only_when_there_are_several() -> None:
    assert interpret("What did microsoft say?", periods=[], organisations=ORGS).organisations == ["Microsoft"]
    assert not interpret("What did Snowflake say?", periods=[], organisations=["Snowflake"]).active
    assert not interpret("snowflakes in winter", periods=[], organisations=ORGS).active


def test_preference_filters_keep_the_callers_and_yield_to_explicit_ones() -> None:
    reading = QueryInterpretation(periods=["Q1 2023"], organisations=["Snowflake"])
    narrowed = preference_filters(SearchFilters(tags=["calls"]), reading)
    assert narrowed is not None
    assert narrowed.tags == ["calls"]
    assert narrowed.metadata == {"period": ["Q1 2023"], "organisation": ["Snowflake"]}
    assert preference_filters(SearchFilters(metadata={"period": "Q2 2022"}), reading) is None


def _hit(pid: str) -> Hit:
    return Hit(id=pid, score=1.0, text=pid, document_id="d", source="s")


def test_prefer_puts_preferred_first_without_duplicates_or_losses() -> None:
    merged = prefer([_hit("b"), _hit("x")], [_hit("a"), _hit("b"), _hit("c")], 4)
    assert [h.id for h in merged] == ["b", "x", "a", "c"]
    assert [h.id for h in prefer([], [_hit("a"), _hit("b")], 5)] == ["a", "b"]


def test_merge_context_adds_and_sorts() -> None:
    merged = merge_context({"periods": ["Q1 2023"], "organisations": ["B"]}, {"Q4 2020"}, {"A"})
    assert merged == {"periods": ["Q1 2023", "Q4 2020"], "organisations": ["A", "B"]}
    assert merge_context(None, [], []) == {"periods": [], "organisations": []}


def test_words_that_are_not_names_never_become_a_preference() -> None:
    # What the legal-form pattern can catch in scientific text ("... Is Inc", "OBJECTIVE Ltd"), or an
    # older version recorded: a query with "is" in it must not prefer that document.
    noisy = ["Is", "OBJECTIVE", "Melanoma Is", "Acme", "Globex"]
    assert not interpret("Vitamin D is good for melanoma is it not", periods=[], organisations=noisy).active
    assert interpret("what did acme report", periods=[], organisations=noisy).organisations == ["Acme"]
