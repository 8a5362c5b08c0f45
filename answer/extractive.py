"""Extractive answers: the retrieved sentences that best match the question, quoted exactly and cited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from answer.citations import best_quote, shared_words
from answer.sentences import sentences
from kernel.models import Citation, Hit

#: Most sentences an extractive answer quotes (one per source at most).
MAX_SENTENCES = 3
#: Besides the strongest, a source's best sentence is quoted only when it shares at least this share of
#: the strongest one's question words, and at least two of them.
MIN_RELATIVE_OVERLAP = 0.5
MIN_OVERLAP = 2


@dataclass(frozen=True)
class Quote:
    """A sentence of hit ``number`` (1-based): ``hit.text[start:end]``, and the question words it shares."""

    number: int
    start: int
    end: int
    overlap: int


def pick_quotes(question: str, hits: Sequence[Hit], *, max_sentences: int = MAX_SENTENCES) -> list[Quote]:
    """The best sentence of each hit for the question, the strongest first.

    A hit's best sentence is :func:`best_quote` with the question as the claim. Besides the strongest,
    sentences sharing fewer than half its question words (or fewer than two) are left out; when no
    sentence shares a word with the question, the first sentence of the first hit stands in.
    """
    quotes = []
    for number, hit in enumerate(hits, 1):
        start, end = best_quote(hit.text, question)
        overlap = shared_words(question, hit.text[start:end])
        if overlap:
            quotes.append(Quote(number=number, start=start, end=end, overlap=overlap))
    if not quotes:
        first = next(iter(sentences(hits[0].text)), None) if hits else None
        if first is None:
            return []
        end = first.start + len(hits[0].text[first.start : first.end].rstrip())
        return [Quote(number=1, start=first.start, end=end, overlap=0)]
    ranked = sorted(quotes, key=lambda q: (-q.overlap, q.number))
    floor = max(MIN_OVERLAP, MIN_RELATIVE_OVERLAP * ranked[0].overlap)
    return [ranked[0], *(q for q in ranked[1:] if q.overlap >= floor)][:max_sentences]


def cite(hit: Hit, quote: Quote) -> Citation:
    """The citation of a quote; ``start``/``end`` are offsets in the document, like every citation's."""
    return Citation(
        number=quote.number,
        document_id=hit.document_id,
        source=hit.source,
        title=hit.title,
        page=hit.page,
        start=None if hit.start is None else hit.start + quote.start,
        end=None if hit.start is None else hit.start + quote.end,
        quote=hit.text[quote.start : quote.end],
    )


def extract(question: str, hits: Sequence[Hit], *, max_sentences: int = MAX_SENTENCES) -> tuple[str, list[Citation]]:
    """The answer text (each quoted sentence followed by its [n]) and one citation per quoted source."""
    quotes = pick_quotes(question, hits, max_sentences=max_sentences)
    text = " ".join(f"{hits[q.number - 1].text[q.start : q.end]} [{q.number}]" for q in quotes)
    citations = sorted((cite(hits[q.number - 1], q) for q in quotes), key=lambda c: c.number)
    return text, citations
