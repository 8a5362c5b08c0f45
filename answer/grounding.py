"""Pure grounding check: is each sentence of a generated answer found in one of the retrieved sources?

A sentence is *supported* by a source when most of its content words (stopwords dropped, plurals folded;
numbers are content words) occur in that source's text and every number it states does. The check is
lexical: a faithful paraphrase in other words fails it, and a sentence that mixes words of one source
into a wrong claim can pass it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from answer.sentences import Sentence, plain, sentences
from kernel.models import Hit
from knowledge.filter import content_words

#: Share of a sentence's content words that one source must contain.
MIN_SUPPORT = 0.6
#: Below this share of supported sentences (or with none), a generated answer fails the check.
MIN_SUPPORTED_SHARE = 0.5

_NUMBER = re.compile(r"^\d[\d.,]*$")


@dataclass(frozen=True)
class SentenceSupport:
    """One sentence of an answer and the source (1-based) that supports it; ``None`` = unsupported."""

    sentence: Sentence
    text: str
    source: int | None
    checked: bool

    @property
    def unsupported(self) -> bool:
        """A sentence with something to check that no source supports."""
        return self.checked and self.source is None


@dataclass(frozen=True)
class Grounding:
    """The support of every sentence of an answer."""

    sentences: list[SentenceSupport]

    @property
    def supported(self) -> int:
        """Sentences some source supports."""
        return sum(1 for s in self.sentences if s.source is not None)

    @property
    def unsupported(self) -> list[str]:
        """The unsupported sentences, as written."""
        return [s.text for s in self.sentences if s.unsupported]

    def passes(self) -> bool:
        """At least one supported sentence and at least half of the checked ones supported."""
        checked = sum(1 for s in self.sentences if s.checked)
        return self.supported > 0 and self.supported >= MIN_SUPPORTED_SHARE * checked


def support(claim: str, sources: Sequence[set[str]], *, min_share: float = MIN_SUPPORT) -> int | None:
    """The 1-based number of the source that best supports ``claim``, or None (see the module doc)."""
    words = content_words(plain(claim))
    numbers = {w for w in words if _NUMBER.match(w)}
    best: tuple[float, int] | None = None
    for number, source in enumerate(sources, 1):
        if not numbers <= source:
            continue
        share = len(words & source) / len(words)
        if share >= min_share and (best is None or share > best[0]):
            best = (share, number)
    return None if best is None else best[1]


def source_words(hits: Sequence[Hit]) -> list[set[str]]:
    """The content words of each hit's text, in hit order."""
    return [content_words(hit.text) for hit in hits]


def check(answer: str, hits: Sequence[Hit], *, min_share: float = MIN_SUPPORT) -> Grounding:
    """Support of each sentence of ``answer`` by the hits; a sentence without content words is not checked."""
    sources = source_words(hits)
    found = []
    for sentence in sentences(answer):
        text = answer[sentence.start : sentence.end].strip()
        has_words = bool(content_words(plain(text)))
        number = support(text, sources, min_share=min_share) if has_words else None
        found.append(SentenceSupport(sentence=sentence, text=text, source=number, checked=has_words))
    return Grounding(sentences=found)
