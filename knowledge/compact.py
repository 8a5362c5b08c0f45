"""Parse the teacher's compact, line-tagged chunk notes (prompt chunk.v2) into the dict ChunkNotes validates.

The format costs fewer tokens than JSON and needs no grammar (a grammar slows llama.cpp's sampling)::

    K: keyword one; keyword two
    S: one-sentence summary
    Q: a question? | A: short answer
    R: a search query or claim as a person would type it

Parsing is lenient about what small models do (bullets, numbering, a bold tag, ``A:`` on its own
line, a repeated tag) and strict about nothing: bounds are applied by the normalization and the
pydantic model after it. Output with no tagged line at all is an error (the caller retries).
"""

from __future__ import annotations

import re
from typing import Any

from kernel.errors import ModelError

#: A tagged line: optional bullet/numbering/markdown, one tag letter or word, a colon, the value.
_LINE = re.compile(
    r"^\s*(?:[-*•]\s*|\d+[.)]\s*)?\**\s*(?P<tag>K|KEYWORDS?|S|SUMMARY|Q|QUESTION|A|ANSWER|R|QUERY|CLAIM)\s*\**\s*[:：]\s*"
    r"(?P<value>.*)$",
    re.IGNORECASE,
)
#: The answer part of a question line: "question? | A: answer" (the bar or the "A:" may be missing).
_ANSWER = re.compile(r"\s*(?:\|\s*(?:A(?:nswer)?\s*[:：])?|\s(?:A|Answer)\s*[:：])\s*", re.IGNORECASE)
_TAGS = {"keyword": "K", "keywords": "K", "summary": "S", "question": "Q", "answer": "A", "query": "R", "claim": "R"}


def _tag(raw: str) -> str:
    lowered = raw.lower()
    return _TAGS.get(lowered, lowered.upper())


def _split_question(value: str) -> tuple[str, str]:
    """``question | A: answer`` into its two parts; the answer is empty when the line has none."""
    match = _ANSWER.search(value)
    if match is None:
        return value.strip(), ""
    return value[: match.start()].strip(), value[match.end() :].strip()


def _keywords(value: str) -> list[str]:
    parts = re.split(r";" if ";" in value else r",", value)
    return [p.strip(" .\"'") for p in parts if p.strip(" .\"'")]


def parse_compact(text: str) -> dict[str, Any]:
    """The chunk notes in ``text`` as ``{"keywords", "summary", "questions", "queries"}`` (not yet bounded).

    Keyword lines add up; the first summary wins; a ``Q:`` line takes its answer from the same line
    or from the next ``A:`` line; an ``R:`` line is one query. Untagged lines are ignored.

    Raises:
        ModelError: No line of the text carries a known tag.
    """
    keywords: list[str] = []
    summary = ""
    questions: list[dict[str, str]] = []
    queries: list[str] = []
    pending: str | None = None  # a question still waiting for its "A:" line
    tagged = 0
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        tagged += 1
        tag, value = _tag(match.group("tag")), match.group("value").strip()
        if tag == "A":
            if pending is not None and value:
                questions.append({"question": pending, "answer": value})
            pending = None
            continue
        if pending is not None:
            pending = None  # a question without an answer is dropped
        if tag == "K":
            keywords += _keywords(value)
        elif tag == "S":
            summary = summary or value
        elif tag == "Q":
            question, answer = _split_question(value)
            if answer:
                questions.append({"question": question, "answer": answer})
            else:
                pending = question
        elif tag == "R" and value:
            queries.append(value.strip("\"'"))
    if not tagged:
        raise ModelError("no tagged line (K:, S:, Q:, R:) in the reply")
    return {"keywords": keywords, "summary": summary, "questions": questions, "queries": queries}
