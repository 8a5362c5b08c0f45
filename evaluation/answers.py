"""Answer quality against reference answers: key facts, token F1, citation precision, repetition (pure).

The measures are lexical on purpose: they need no judge model and read the same on every run.

- **Key facts** of a reference: its numbers (with their scale words folded in: "$394 million" -> ``394``,
  "84%" -> ``84``), quarters and years ("Q1 2023", "2023") and names (capitalised words that do not
  open a sentence). Key-fact recall is the share of the reference's facts that the answer states.
- **Token F1**: SQuAD's overlap of normalised words (lower case, no punctuation or articles).
- **Citation precision**: the share of cited spans that hold supporting text: one of the reference's
  key facts, or (a reference without facts) at least 30% of its content words.
- **Repetition**: an answer repeats itself when two of its sentences of two words or more are equal once
  normalised (citation markers "[n]" and "[unsupported]" dropped: they are annotations, not text).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

_SOURCE_LINE = re.compile(r"\n\s*Source\s*:.*$", re.IGNORECASE | re.DOTALL)
_NUMBER = re.compile(r"(?<![\w.])\$?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s*(%|percent)?")
_QUARTER = re.compile(r"\bQ([1-4])\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'&-]*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_ARTICLES = frozenset({"a", "an", "the"})
_STOP_WORDS = """a an the and or but of to in on at for from by with as is are was were be been being it its this that
    these those we our you your they their he she his her i me my what which who whom how when where why do
    does did not no yes there here than then so such can could would should will may might also about into
    over under up down out more most less very just"""
_STOP = frozenset(_STOP_WORDS.split())
_MIN_NAME_LEN = 3
_CONTENT_SHARE = 0.3
_MARKS = re.compile(r"\[(?:\d{1,3}(?:\s*,\s*\d{1,3})*|unsupported)\]")
_MIN_SENTENCE_WORDS = 2


def reference_text(answer: str) -> str:
    """A reference answer without its trailing "Source: ..." line."""
    return _SOURCE_LINE.sub("", answer).strip()


def _numbers(text: str) -> set[str]:
    found: set[str] = set()
    for match in _NUMBER.finditer(text):
        whole = match.group(1).replace(",", "")
        decimals = (match.group(2) or "").rstrip("0")
        found.add(f"{int(whole)}.{decimals}" if decimals else str(int(whole)))
    return found


def _names(text: str) -> set[str]:
    names: set[str] = set()
    for sentence in _SENTENCE.split(text):
        words = list(_WORD.finditer(sentence))
        for word in words[1:]:  # the first word of a sentence is capitalised anyway
            token = word.group(0)
            if token[0].isupper() and len(token) >= _MIN_NAME_LEN and token.lower() not in _STOP:
                names.add(token.lower())
    return names


def key_facts(text: str) -> set[str]:
    """Numbers, quarters and names of a text, normalised for matching (see the module docstring)."""
    facts = {f"#{n}" for n in _numbers(text)}
    facts |= {f"q{m.group(1)}" for m in _QUARTER.finditer(text)}
    facts |= {f"@{name}" for name in _names(text)}
    return facts


def _facts_in(text: str) -> set[str]:
    """Everything a text could be credited with: its numbers, quarters and every word (any case)."""
    facts = {f"#{n}" for n in _numbers(text)}
    facts |= {f"q{m.group(1)}" for m in _QUARTER.finditer(text)}
    facts |= {f"@{w.group(0).lower()}" for w in _WORD.finditer(text)}
    return facts


def key_fact_recall(answer: str, reference: str) -> float | None:
    """Share of the reference's key facts the answer states; None when the reference has none."""
    wanted = key_facts(reference_text(reference))
    if not wanted:
        return None
    return len(wanted & _facts_in(answer)) / len(wanted)


def tokens(text: str) -> list[str]:
    """Normalised words: lower case, punctuation and articles removed (SQuAD's normalisation)."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in _ARTICLES]


def token_f1(answer: str, reference: str) -> float:
    """SQuAD token F1 between an answer and a reference answer (its Source line removed)."""
    got, want = tokens(answer), tokens(reference_text(reference))
    common = sum((Counter(got) & Counter(want)).values())
    if not got or not want or common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def _content(words: Iterable[str]) -> set[str]:
    return {w for w in words if w not in _STOP and len(w) > 1}


def supports(span: str, reference: str) -> bool:
    """True when a cited span holds supporting text for the reference answer (see the module docstring)."""
    ref = reference_text(reference)
    wanted = key_facts(ref)
    if wanted:
        return bool(wanted & _facts_in(span))
    ref_words = _content(tokens(ref))
    if not ref_words:
        return False
    return len(ref_words & _content(tokens(span))) / len(ref_words) >= _CONTENT_SHARE


def citation_precision(spans: Sequence[str], reference: str) -> float | None:
    """Share of the cited spans that support the reference; None when nothing was cited."""
    if not spans:
        return None
    return sum(supports(span, reference) for span in spans) / len(spans)


def _normalised_sentences(text: str) -> list[str]:
    said = (tokens(_MARKS.sub(" ", s)) for s in _SENTENCE.split(text))
    return [" ".join(words) for words in said if len(words) >= _MIN_SENTENCE_WORDS]


def repeats(answer: str) -> bool:
    """True when two sentences of the answer are the same once normalised."""
    sentences = _normalised_sentences(answer)
    return len(sentences) != len(set(sentences))
