"""Reporting periods and organisations, read deterministically from text (titles, file names, queries).

Company documents come in look-alike versions ("Q1 2023" vs "Q2 2023" of one company's call or
filing) whose chunks rarely say which version they belong to. A period is a fiscal quarter or a
fiscal year; its label is canonical ("Q1 2023", "FY 2023") so documents and queries compare equal.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_YEAR = r"(?:'|’)?(\d{4}|\d{2})\b"
_FISCAL = r"(?:FY|fiscal(?:\s+year)?)"
# "Q1 2023", "Q3 FY23", "Q1 Fiscal 2023", "Q2'23", "Q4 of fiscal year 2022"
_Q_FIRST = re.compile(rf"\bQ([1-4])\s*(?:of\s+)?(?:{_FISCAL}\s*)?{_YEAR}", re.IGNORECASE)
# "2023 Q1", "FY2023 Q1", "fiscal 2023 Q1"
_Y_FIRST = re.compile(rf"\b(?:{_FISCAL}\s*)?(\d{{4}})\s*Q([1-4])\b", re.IGNORECASE)
# "first quarter of fiscal 2023", "third quarter 2022", "the fourth quarter of fiscal year 2021"
_WORDS = re.compile(
    rf"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter\s+(?:of\s+)?(?:{_FISCAL}\s*)?{_YEAR}",
    re.IGNORECASE,
)
# "fiscal 2023", "FY23", "fiscal year 2022" (a whole year)
_FISCAL_YEAR = re.compile(rf"\b{_FISCAL}\s*{_YEAR}", re.IGNORECASE)
_LATEST = re.compile(
    r"\b(?:most\s+recent|latest|last|newest|current)\s+(?:fiscal\s+)?(?:quarter|period|call|report|filing|year)\b",
    re.IGNORECASE,
)
_LEGAL_FORM = r"(?:Inc|Corp|Corporation|Incorporated|Ltd|Limited|LLC|plc|PLC|AG|N\.V|S\.A|GmbH)"
_ORGANISATION = re.compile(rf"\b((?:[A-Z][A-Za-z&'-]+[ \t]+){{0,3}}[A-Z][A-Za-z&'-]+),?[ \t]+{_LEGAL_FORM}\b\.?")
_LEGAL_WORD = re.compile(rf"^{_LEGAL_FORM}$")
_NOT_NAMES = frozenset({"The", "A", "An", "Of", "And", "For", "With", "By", "In", "On", "At", "To", "From"})
_COMMON = frozenset(
    {"is", "are", "was", "the", "and", "for", "with", "from", "this", "that", "our", "its", "their", "all", "new"}
)
_MIN_NAME = 3
_MAX_CAPS = 5  # "IBM", "SAP", "AWS" are names; "OBJECTIVE", "IMPORTANCE" are section labels


def plausible_organisation(name: str) -> bool:
    """False for what the legal-form pattern catches that is not a name: short or common words, labels."""
    words = name.split()
    if not words or len(name) < _MIN_NAME or any(w.lower() in _COMMON for w in words):
        return False
    return not any(w.isupper() and len(w) > _MAX_CAPS for w in words)


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A fiscal quarter (``quarter`` 1-4) or a whole fiscal year (``quarter`` None); ordered by time."""

    year: int
    quarter: int | None = None

    @property
    def label(self) -> str:
        """Canonical text: ``Q1 2023`` or ``FY 2023``."""
        return f"Q{self.quarter} {self.year}" if self.quarter else f"FY {self.year}"

    def sort_key(self) -> tuple[int, int]:
        """Later periods sort higher; a whole year sorts after its quarters."""
        return (self.year, self.quarter or 5)


def _year(text: str) -> int:
    value = int(text)
    return value + 2000 if value < 100 else value


def _plausible(year: int) -> bool:
    return 1950 <= year <= 2100


def find_periods(text: str) -> list[Period]:
    """Every quarter or fiscal year named in ``text``, in order of appearance, without repeats."""
    found: list[tuple[int, Period]] = []
    spans: list[tuple[int, int]] = []
    for match in _Q_FIRST.finditer(text):
        found.append((match.start(), Period(_year(match.group(2)), int(match.group(1)))))
        spans.append(match.span())
    for match in _Y_FIRST.finditer(text):
        found.append((match.start(), Period(_year(match.group(1)), int(match.group(2)))))
        spans.append(match.span())
    for match in _WORDS.finditer(text):
        found.append((match.start(), Period(_year(match.group(2)), _ORDINALS[match.group(1).lower()])))
        spans.append(match.span())
    for match in _FISCAL_YEAR.finditer(text):
        # "Q1 Fiscal 2023" is a quarter; its "Fiscal 2023" is not a second, whole-year period.
        if not any(start <= match.start() < end for start, end in spans):
            found.append((match.start(), Period(_year(match.group(1)))))
    seen: set[Period] = set()
    ordered: list[Period] = []
    for _, period in sorted(found, key=lambda item: item[0]):
        if _plausible(period.year) and period not in seen:
            seen.add(period)
            ordered.append(period)
    return ordered


def document_period(*texts: str) -> Period | None:
    """The period a document covers: the first quarter named in the first text that names one.

    Pass the most specific sources first (title, file name, opening text). A text naming only a
    fiscal year gives that year when no later text names a quarter.
    """
    year_only: Period | None = None
    for text in texts:
        periods = find_periods(text)
        quarter = next((p for p in periods if p.quarter is not None), None)
        if quarter is not None:
            return quarter
        if year_only is None and periods:
            year_only = periods[0]
    return year_only


def asks_latest(text: str) -> bool:
    """True when a query asks for the most recent period ("the latest quarter", "most recent call")."""
    return _LATEST.search(text) is not None


def find_organisations(text: str) -> Counter[str]:
    """Names before a legal form ("Snowflake Inc.", "Microsoft Corporation"), counted with every tail of their words."""
    counts: Counter[str] = Counter()
    for match in _ORGANISATION.finditer(text):
        words = match.group(1).split()
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        if words and not _LEGAL_WORD.match(words[-1]):
            # "Frank Slootman Snowflake Inc." in a list of participants: every tail of the words is a
            # candidate name, so the company outcounts the people named before it.
            for start in range(len(words)):
                name = " ".join(words[start:])
                if plausible_organisation(name):
                    counts[name] += 1
    return counts


def document_organisation(title: str, opening: str) -> str | None:
    """The organisation a document is about: the title's, else one named at least twice in its opening.

    An organisation named once in passing (a sponsor, a publisher) is not what a document is about.
    """
    counts = find_organisations(opening)
    titled = find_organisations(title)
    if titled:
        # The title's name that the opening repeats most (a transcript's title names its company).
        return max(titled, key=lambda name: (counts.get(name, 0), -len(name)))
    if counts:
        best, n = counts.most_common(1)[0]
        if n >= 2:
            return best
    return None
