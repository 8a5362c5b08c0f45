"""Pure answer composition: generated text, checked against the sources, becomes an Answer (or quotes do).

- ``generated``: the model's text; sentences no source supports stay, marked ``[unsupported]``.
- ``combined``: the model's text with unsupported sentences dropped, or the extractive answer when the
  text fails the grounding check (nothing supported, most sentences unsupported, empty, or the model
  refused although retrieval found support).
- ``extractive``: the best source sentences for the question, no model.

Every supported sentence without a marker gets the [n] of the source that supports it, and every [n]
comes with the best matching sentence of that source as an exact quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from answer.citations import has_citation, map_citations
from answer.extractive import extract
from answer.grounding import Grounding, check
from answer.prompt import REFUSAL
from kernel.models import Answer, AnswerMode, Hit, StopReason

UNSUPPORTED_MARK = "[unsupported]"
_TAIL = re.compile(r"[.!?:;\"')\s]*$")


@dataclass(frozen=True)
class Generated:
    """What the model wrote (already cut where it began to repeat itself) and how it ended."""

    text: str
    stop_reason: StopReason = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0


def refusal(
    hits: Sequence[Hit], *, mode: AnswerMode = AnswerMode.COMBINED, generated: Generated | None = None
) -> Answer:
    """The answer given when the documents do not support one."""
    return _stamp(Answer(answer=REFUSAL, citations=[], hits=list(hits), refused=True), mode, generated)


def extractive(question: str, hits: Sequence[Hit], *, generated: Generated | None = None) -> Answer:
    """Quoted source sentences for the question (a refusal when there are none)."""
    text, citations = extract(question, hits)
    if not text:
        return refusal(hits, mode=AnswerMode.EXTRACTIVE, generated=generated)
    return _stamp(Answer(answer=text, citations=citations, hits=list(hits)), AnswerMode.EXTRACTIVE, generated)


def compose(question: str, hits: Sequence[Hit], generated: Generated, mode: AnswerMode) -> Answer:
    """The Answer for generated text in ``generated`` or ``combined`` mode (see the module doc)."""
    text = generated.text.strip()
    if not text or REFUSAL.lower().rstrip(".") in text.lower():
        if mode is AnswerMode.COMBINED:
            return extractive(question, hits, generated=generated)
        return refusal(hits, mode=mode, generated=generated)
    cleaned, _, invalid = map_citations(text, hits, auto_attribute=False)
    grounding = check(cleaned, hits)
    if mode is AnswerMode.COMBINED and not grounding.passes():
        return extractive(question, hits, generated=generated)
    rewritten = rewrite(cleaned, grounding, drop=mode is AnswerMode.COMBINED)
    final, citations, _ = map_citations(rewritten, hits, auto_attribute=False)
    answer = Answer(
        answer=final, citations=citations, hits=list(hits), invalid_citations=invalid, unsupported=grounding.unsupported
    )
    return _stamp(answer, mode, generated)


def rewrite(text: str, grounding: Grounding, *, drop: bool) -> str:
    """Cite supported sentences that carry no marker; drop unsupported ones (``drop``) or mark them."""
    out: list[str] = []
    last = 0
    gap: str | None = None  # the whitespace before a dropped sentence, still to be placed
    for item in grounding.sentences:
        before = text[last : item.sentence.start]
        body = text[item.sentence.start : item.sentence.end]
        last = item.sentence.end
        if item.unsupported and drop:
            gap = before if gap is None else _wider(gap, before)
            continue
        out.append(before if gap is None else _wider(gap, before))
        gap = None
        if item.unsupported:
            out.append(mark(body, UNSUPPORTED_MARK))
        elif item.source is not None and not has_citation(body):
            out.append(mark(body, f"[{item.source}]"))
        else:
            out.append(body)
    out.append(text[last:])
    return "".join(out).strip()


def mark(sentence: str, tag: str) -> str:
    """``tag`` inserted before the sentence's closing punctuation: "Bees swarm [2]."."""
    tail = _TAIL.search(sentence)
    cut = tail.start() if tail else len(sentence)
    return f"{sentence[:cut]} {tag}{sentence[cut:]}"


def _wider(a: str, b: str) -> str:
    """Of two gaps between sentences, the one that separates more (a paragraph beats a line beats a space)."""
    return b if b.count("\n") > a.count("\n") else a


def _stamp(answer: Answer, mode: AnswerMode, generated: Generated | None) -> Answer:
    """The answer with the mode shown and, after a generation, how it ended and its token counts."""
    update: dict[str, object] = {"mode": "extractive" if mode is AnswerMode.EXTRACTIVE else "generated"}
    if generated is not None:
        update |= {
            "stop_reason": generated.stop_reason,
            "prompt_tokens": generated.prompt_tokens,
            "completion_tokens": generated.completion_tokens,
        }
    return answer.model_copy(update=update)
