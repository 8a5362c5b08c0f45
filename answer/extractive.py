"""Extractive answers: the retrieved sentences that best match the question, quoted exactly and cited."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from answer.sentences import plain, sentences, words
from kernel.models import Citation, Hit
from knowledge.filter import content_words

#: Most sentences an extractive answer quotes (one per source at most).
MAX_SENTENCES = 3
#: Besides the strongest, a source's best sentence is quoted only when it scores at least this share of
#: the strongest one and shares at least two question words.
MIN_RELATIVE_SCORE = 0.5
MIN_OVERLAP = 2
#: Shorter sentences (in words) are labels, not statements ("Frank Slootman Snowflake Inc.").
MIN_WORDS = 5


@dataclass(frozen=True)
class Quote:
    """A sentence of hit ``number`` (1-based): ``hit.text[start:end]``, and how well it matches."""

    number: int
    start: int
    end: int
    overlap: int
    score: float = 0.0


@dataclass(frozen=True)
class _Candidate:
    number: int
    start: int
    end: int
    words: frozenset[str]


def _candidates(hits: Sequence[Hit]) -> list[_Candidate]:
    """Every statement of the hits: not a question (a transcript's questions share the asker's words), not a label."""
    found = []
    for number, hit in enumerate(hits, 1):
        for sentence in sentences(hit.text):
            raw = hit.text[sentence.start : sentence.end].rstrip()
            if raw.endswith("?") or len(raw.split()) < MIN_WORDS:
                continue
            found.append(_Candidate(number, sentence.start, sentence.start + len(raw), frozenset(content(raw))))
    return found


def pick_quotes(question: str, hits: Sequence[Hit], *, max_sentences: int = MAX_SENTENCES) -> list[Quote]:
    """The best statement of each hit for the question, the strongest first.

    Questions and labels are never quoted (see :func:`_candidates`). A sentence scores the question
    words it holds, each weighted by how rare it is among the hits' sentences (a word every sentence
    holds says little); words that name the documents (see :func:`identifying`) do not count unless
    the question has no others. Besides the strongest, sentences scoring under half of it (or sharing
    fewer than two words) are left out, and so is a sentence that repeats a kept one. When no sentence
    shares a word with the question, the first sentence of the first hit stands in.
    """
    asked = content(question) - identifying(hits) or content(question)
    candidates = _candidates(hits)
    df: Counter[str] = Counter(w for c in candidates for w in c.words & asked)
    total = len(candidates)

    def score(c: _Candidate) -> float:
        return sum(math.log((total + 1) / (df[w] + 0.5)) for w in c.words & asked)

    best: dict[int, Quote] = {}
    for c in candidates:
        overlap = len(c.words & asked)
        if not overlap:
            continue
        quote = Quote(number=c.number, start=c.start, end=c.end, overlap=overlap, score=score(c))
        if c.number not in best or quote.score > best[c.number].score:
            best[c.number] = quote
    if not best:
        first = next(iter(sentences(hits[0].text)), None) if hits else None
        if first is None:
            return []
        end = first.start + len(hits[0].text[first.start : first.end].rstrip())
        return [Quote(number=1, start=first.start, end=end, overlap=0)]
    ranked = sorted(best.values(), key=lambda q: (-q.score, q.number))
    kept: list[Quote] = []
    for quote in ranked:
        if kept and (quote.overlap < MIN_OVERLAP or quote.score < MIN_RELATIVE_SCORE * ranked[0].score):
            continue
        if not any(_same_sentence(hits, quote, other) for other in kept):
            kept.append(quote)
    return kept[:max_sentences]


def identifying(hits: Sequence[Hit]) -> set[str]:
    """Words that name the documents (title, organisation, period in the context header): retrieval has
    used them to find the documents, and a greeting that repeats them answers nothing."""
    return {w for hit in hits for w in content(f"{hit.title or ''} {hit.context or ''}")}


def content(text: str) -> set[str]:
    """The words that say what a text is about: lower case, stopwords out, plurals folded."""
    return content_words(plain(text))


def _said(text: str) -> list[str]:
    return [w.text for w in words(plain(text))]


def _same_sentence(hits: Sequence[Hit], a: Quote, b: Quote) -> bool:
    """Whether two quotes say the same: equal words, or overlapping spans of one document (chunks overlap)."""
    hit_a, hit_b = hits[a.number - 1], hits[b.number - 1]
    if _said(hit_a.text[a.start : a.end]) == _said(hit_b.text[b.start : b.end]):
        return True
    if hit_a.document_id != hit_b.document_id or hit_a.start is None or hit_b.start is None:
        return False
    return hit_a.start + a.start < hit_b.start + b.end and hit_b.start + b.start < hit_a.start + a.end


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
