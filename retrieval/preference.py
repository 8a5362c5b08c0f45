"""What a query says about time and organisations, turned into a soft preference on document metadata.

"How much did revenue grow in Q1 fiscal 2023?" asks about one of several look-alike quarterly
documents. The query's periods and organisations are matched against those the collection's
documents carry (``metadata.period``, ``metadata.organisation``, found at ingest); documents that
match are ranked first, the others follow, so a misread query never loses its results.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from kernel.models import Hit, SearchFilters
from retrieval.periods import Period, asks_latest, find_periods, plausible_organisation

#: Collection metadata key holding the periods and organisations of its documents.
CONTEXT_KEY = "document_context"
PERIOD_FIELD = "period"
ORGANISATION_FIELD = "organisation"


class QueryInterpretation(BaseModel):
    """How a query was read: the periods and organisations it names, as documents label them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    periods: list[str] = Field(default_factory=list, description="Document periods preferred, e.g. ['Q1 2023'].")
    organisations: list[str] = Field(default_factory=list, description="Organisations preferred.")
    latest: bool = Field(default=False, description="The query asked for the most recent period.")
    preferred_hits: int = Field(default=0, description="Hits from matching documents, ranked first.")

    @property
    def active(self) -> bool:
        """True when there is something to prefer."""
        return bool(self.periods or self.organisations)


def parse_period_label(label: str) -> Period | None:
    """The Period of a stored label ("Q1 2023" or "FY 2023"), or None."""
    found = find_periods(label)
    return found[0] if len(found) == 1 else None


def _matching_periods(asked: Sequence[Period], known: Iterable[str]) -> list[str]:
    labels: list[str] = []
    for label in known:
        period = parse_period_label(label)
        if period is None:
            continue
        for want in asked:
            same_year = period.year == want.year
            if same_year and (want.quarter is None or period.quarter == want.quarter):
                labels.append(label)
                break
    return sorted(set(labels))


def _latest(known: Iterable[str]) -> list[str]:
    periods = [(p, label) for label in known if (p := parse_period_label(label)) is not None]
    quarters = [item for item in periods if item[0].quarter is not None] or periods
    if not quarters:
        return []
    newest = max(quarters, key=lambda item: item[0].sort_key())
    return [newest[1]]


def _named(query: str, organisations: Iterable[str]) -> list[str]:
    lowered = query.lower()
    named = []
    for name in organisations:
        if not plausible_organisation(name):
            continue  # recorded by an older version, or given at upload
        first = name.split()[0].lower()
        # The full name, or its first word when it is distinctive ("Microsoft" for "Microsoft Corporation").
        full = re.search(rf"\b{re.escape(name.lower())}\b", lowered)
        if full or (
            plausible_organisation(first) and len(first) > 3 and re.search(rf"\b{re.escape(first)}\b", lowered)
        ):
            named.append(name)
    return sorted(named)


def interpret(query: str, *, periods: Sequence[str], organisations: Sequence[str]) -> QueryInterpretation:
    """Read the periods and organisations a query names, keeping only those some document carries.

    Args:
        query: the user's text.
        periods: period labels of the collection's documents.
        organisations: organisation names of the collection's documents.
    """
    asked = find_periods(query)
    latest = not asked and asks_latest(query)
    matched = _matching_periods(asked, periods) if asked else (_latest(periods) if latest else [])
    # Naming the only organisation there is prefers nothing.
    names = {name for name in organisations if plausible_organisation(name)}
    orgs = _named(query, sorted(names)) if len(names) > 1 else []
    return QueryInterpretation(periods=matched, organisations=orgs, latest=latest)


def preference_filters(base: SearchFilters | None, reading: QueryInterpretation) -> SearchFilters | None:
    """The caller's filters narrowed to the preferred documents; None when the caller already filters those fields."""
    metadata = dict(base.metadata or {}) if base is not None else {}
    if PERIOD_FIELD in metadata or ORGANISATION_FIELD in metadata:
        return None
    if reading.periods:
        metadata[PERIOD_FIELD] = list(reading.periods)
    if reading.organisations:
        metadata[ORGANISATION_FIELD] = list(reading.organisations)
    return (base or SearchFilters()).model_copy(update={"metadata": metadata})


def prefer(preferred: list[Hit], others: list[Hit], limit: int) -> list[Hit]:
    """Preferred hits first (in their order), then the others not already there, ``limit`` in all."""
    seen = {h.id for h in preferred}
    return (preferred + [h for h in others if h.id not in seen])[:limit]


def merge_context(current: object, periods: Iterable[str], organisations: Iterable[str]) -> dict[str, list[str]]:
    """The collection's context metadata with these documents' periods and organisations added."""
    old = current if isinstance(current, dict) else {}
    old_periods = [p for p in old.get("periods", []) if isinstance(p, str)]
    old_orgs = [o for o in old.get("organisations", []) if isinstance(o, str)]
    return {
        "periods": sorted(set(old_periods) | set(periods)),
        "organisations": sorted(set(old_orgs) | set(organisations)),
    }
