"""Document context (contextual retrieval): who and when a document is about, and a header per chunk.

Look-alike company documents (one company's quarterly calls or filings) share most of their words,
and a chunk in the middle of one rarely says which company or quarter it belongs to. The header
gives every chunk its document's identity: title, organisation, period and section. It is indexed
with the chunk (dense and BM25) and shown in hits; the chunk's own text and offsets stay exact.
"""

from __future__ import annotations

from typing import Any

from kernel.models import Chunk, Document
from retrieval.periods import document_organisation, document_period

#: Document metadata keys this module writes (filterable through ``filters.metadata``).
PERIOD = "period"
ORGANISATION = "organisation"
#: How much of the opening text is read for the period and organisation.
OPENING_CHARS = 5000
#: Longest header indexed with a chunk, in characters (about 40 word pieces: chunks of the
#: default 200 pieces plus the header stay within the embedding model's 254).
MAX_HEADER_CHARS = 200
_SEPARATOR = " | "


def document_context(doc: Document) -> dict[str, Any]:
    """Metadata found deterministically in a document: ``period`` ("Q1 2023") and ``organisation``.

    Keys are absent when nothing is found; explicit metadata given at upload wins over these.
    """
    opening = doc.text[:OPENING_CHARS]
    found: dict[str, Any] = {}
    period = document_period(doc.title, doc.source, opening)
    if period is not None:
        found[PERIOD] = period.label
    organisation = document_organisation(doc.title, opening)
    if organisation is not None:
        found[ORGANISATION] = organisation
    return found


def chunk_header(doc: Document, chunk: Chunk, metadata: dict[str, Any]) -> str:
    """The header indexed with one chunk: title, organisation, period, section heading.

    The title goes in only for a document with a period or an organisation: it is what tells
    look-alike versions apart, while on plain articles (SciFact abstracts) repeating the title on
    every chunk cost ranking quality (README, "Company documents"). It is also left out when the
    chunk already opens with it (a first chunk), and so is any part the title already holds.
    Empty when there is nothing to add.
    """
    parts: list[str] = []
    title = " ".join(doc.title.split())
    identified = any(isinstance(metadata.get(key), str) for key in (ORGANISATION, PERIOD))
    if identified and title and not chunk.text.startswith(title):
        parts.append(title)
    known = title.lower()
    for key in (ORGANISATION, PERIOD):
        value = metadata.get(key)
        if isinstance(value, str) and value and value.lower() not in known:
            parts.append(value)
    heading = " ".join((chunk.heading or "").split())
    if heading and heading.lower() not in known and not chunk.text.startswith(heading):
        parts.append(heading)
    header = _SEPARATOR.join(parts)
    return header[:MAX_HEADER_CHARS].rsplit(" ", 1)[0] if len(header) > MAX_HEADER_CHARS else header


def indexed_text(header: str, text: str) -> str:
    """What the embedder and BM25 see for a chunk: its header, a blank line, its text."""
    return f"{header}\n\n{text}" if header else text
