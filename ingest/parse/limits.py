"""Limits that parsers enforce while they extract, so a small hostile file cannot amplify into gigabytes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kernel.errors import InvalidRequestError


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Bounds on what one file may produce; the defaults match the service's settings.

    Attributes:
        max_chars: characters of extracted text, all pages together.
        max_page_chars: characters of one page (or section).
        max_pages: pages of a paged format.
        max_seconds: wall-clock time spent extracting one file (checked between pages or blocks).
        max_xml_bytes: a DOCX's XML parts together, expanded (refused from the zip directory, before
            anything is inflated).
    """

    max_chars: int = 5_000_000
    max_page_chars: int = 200_000
    max_pages: int = 5_000
    max_seconds: float = 120.0
    max_xml_bytes: int = 64 * 1024 * 1024


@dataclass(slots=True)
class Budget:
    """What a parse has produced so far against its ParseLimits; InvalidRequestError (422) on the first overrun."""

    limits: ParseLimits
    name: str
    chars: int = 0
    started: float = field(default_factory=time.monotonic)

    def pages(self, count: int) -> None:
        """Refuse a file with more pages than allowed (before any page is read)."""
        if count > self.limits.max_pages:
            raise InvalidRequestError(
                f"{self.name} has {count:,} pages; the limit is {self.limits.max_pages:,}. Split the document."
            )

    def add(self, text: str, *, page: int | None = None) -> None:
        """Count one page's (or section's) text and the time spent so far."""
        size = len(text)
        self.section(size, page=page)
        self.chars += size
        if self.chars > self.limits.max_chars:
            where = f" (by page {page})" if page is not None else ""
            raise InvalidRequestError(
                f"{self.name}: more than {self.limits.max_chars:,} characters of text{where}. Split the document "
                "into smaller files."
            )
        self.check_time()

    def section(self, size: int, *, page: int | None = None) -> None:
        """Refuse one page (or section) of ``size`` characters when it is longer than allowed."""
        if size > self.limits.max_page_chars:
            where = f"page {page}" if page is not None else "one section"
            raise InvalidRequestError(
                f"{self.name}: {where} has {size:,} characters; the limit is {self.limits.max_page_chars:,} "
                "per page. Check that the file is a real document (not a data dump) or split it."
            )

    def check_time(self) -> None:
        """Refuse a file whose parse has run longer than allowed (called between steps of a parse)."""
        elapsed = time.monotonic() - self.started
        if elapsed > self.limits.max_seconds:
            raise InvalidRequestError(
                f"{self.name}: extracting its text took more than {self.limits.max_seconds:g} s; "
                "split the document or simplify it."
            )
