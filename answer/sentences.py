"""Pure sentence handling for generated answers: where sentences end, and the words that say what they claim.

The same rules serve the loop detector (which sees the text grow piece by piece), the grounding check
and the answer rewriting, so that all three agree on what one sentence is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# A sentence ends at . ! or ? (closing quotes and brackets included) followed by whitespace, or at a line
# break unless the next line goes on in lower case (a wrapped line of a PDF). "1.e4", "3.5" and "e.g.x"
# do not end one: the mark must be followed by whitespace.
_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)|\n(?![ \t]*[a-z])")
# What is not a word of the claim: list markers at the start of a line ("1.", "2)", "-") and citation
# markers ("[1]", "[1, 2]"). Everything else made of letters and digits is a word; numbers are words.
_TOKEN = re.compile(
    r"(?m)(?P<skip>^[ \t]*(?:\d{1,3}[.)]|[-*\u2022])(?=[ \t])|\[\d{1,3}(?:\s*,\s*\d{1,3})*\]|\[unsupported\])"
    r"|(?P<word>[^\W_]+)"
)
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a text: ``text[start:end]``, leading whitespace excluded."""

    start: int
    end: int
    complete: bool


@dataclass(frozen=True)
class Word:
    """A lower-cased word of a text and where it starts."""

    text: str
    start: int


def words(text: str, start: int = 0, end: int | None = None) -> list[Word]:
    """The words of ``text[start:end]``, lower-cased, without list or citation markers."""
    stop = len(text) if end is None else end
    return [Word(m.group("word").lower(), m.start()) for m in _TOKEN.finditer(text, start, stop) if m.group("word")]


def word_limit(text: str, *, final: bool) -> int:
    """How far words are known to be whole: the text's end when it is final, else its last whitespace."""
    if final:
        return len(text)
    last = max((m.start() for m in _SPACE.finditer(text, max(0, len(text) - 200))), default=-1)
    return last + 1


def sentences(text: str, start: int = 0, *, final: bool = True) -> Iterator[Sentence]:
    """Sentences of ``text`` from ``start`` on; the unfinished tail counts only when the text is ``final``.

    A stretch without words (a list marker "2.", a lone citation "[1].", blank lines) joins the sentence
    after it, so "2. Bees swarm." is one sentence.
    """
    begin = start
    for match in _END.finditer(text, start):
        if not final and match.group() == "\n" and not text[match.end() :].strip(" \t"):
            break  # what the next line starts with decides whether this line break ends a sentence
        if not _has_word(text, begin, match.end()):
            continue
        yield _trimmed(text, begin, match.end(), complete=True)
        begin = match.end()
    if final and _has_word(text, begin, len(text)):
        yield _trimmed(text, begin, len(text), complete=False)


def _has_word(text: str, start: int, end: int) -> bool:
    # Scanned on the whole text: whether "2." is a list marker depends on the character after it.
    for match in _TOKEN.finditer(text, start):
        if match.start() >= end:
            return False
        if match.group("word"):
            return True
    return False


def _trimmed(text: str, start: int, end: int, *, complete: bool) -> Sentence:
    lead = len(text[start:end]) - len(text[start:end].lstrip())
    return Sentence(start=start + lead, end=end, complete=complete)


def plain(text: str) -> str:
    """The sentence without list and citation markers, whitespace collapsed."""
    return " ".join(_TOKEN.sub(lambda m: " " if m.group("skip") else m.group(0), text).split())
