"""Pure citation mapping: [n] markers in an answer to quoted spans of the retrieved text."""

from __future__ import annotations

import re
from collections.abc import Sequence

from answer.sentences import sentences
from kernel.models import Citation, Hit

_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
_WORD = re.compile(r"\w+")


# Words too common to say that a sentence and a source are about the same thing.
_STOPWORDS = frozenset(
    (  # noqa: SIM905 (a word list reads better as one string)
        "the and for are was were with that this from have has had not but its they their them you "
        "your can could would should will what which who whom when where why how all any each some "
        "such than then there these those into onto over under about also only very more most other "
        "our out use used"
    ).split()
)


def _words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if len(w) > 2 and w not in _STOPWORDS}


def has_citation(text: str) -> bool:
    """Whether ``text`` holds a citation marker like [1] or [1, 2]."""
    return _MARKER.search(text) is not None


def shared_words(a: str, b: str) -> int:
    """How many content words (longer than two letters, not stopwords) two texts share."""
    return len(_words(a) & _words(b))


def best_quote(hit_text: str, claim: str) -> tuple[int, int]:
    """Span (start, end) within ``hit_text`` of the sentence sharing most words with ``claim``.

    Falls back to the whole text when no sentence shares a word, so a quote is never empty.
    """
    claim_words = _words(claim)
    best: tuple[int, int] | None = None
    best_overlap = 0
    for sentence in sentences(hit_text):
        raw = hit_text[sentence.start : sentence.end].rstrip()
        overlap = len(claim_words & _words(raw))
        if overlap > best_overlap:
            best_overlap = overlap
            best = (sentence.start, sentence.start + len(raw))
    return best if best is not None else (0, len(hit_text))


def _claims(answer: str) -> dict[int, str]:
    """The answer sentences that cite each number, joined per number."""
    claims: dict[int, list[str]] = {}
    for sentence in _SENTENCE.finditer(answer):
        for marker in _MARKER.finditer(sentence.group(0)):
            for number in marker.group(1).split(","):
                claims.setdefault(int(number), []).append(_MARKER.sub("", sentence.group(0)))
    return {n: " ".join(parts) for n, parts in claims.items()}


def attribute(answer: str, hits: Sequence[Hit], *, min_shared: int = 2, min_ratio: float = 0.5) -> str:
    """Mark each answer sentence with the source it shares most content words with.

    A sentence is marked when it shares at least ``min_shared`` words and ``min_ratio`` of its words.

    Used when the model cited nothing: small models often answer from the sources without markers.
    """
    hit_words = [_words(h.text) for h in hits]
    pieces: list[str] = []
    last = 0
    for match in _SENTENCE.finditer(answer):
        words = _words(match.group(0))
        shared = [len(words & hw) for hw in hit_words]
        if not shared or max(shared) < min_shared or max(shared) < min_ratio * len(words):
            continue
        number = shared.index(max(shared)) + 1
        body = match.group(0).rstrip()
        cut = match.start() + len(body.rstrip(".!?"))
        pieces.append(answer[last:cut] + f" [{number}]")
        last = cut
    pieces.append(answer[last:])
    return "".join(pieces)


def map_citations(
    answer: str, hits: Sequence[Hit], *, auto_attribute: bool = True
) -> tuple[str, list[Citation], list[int]]:
    """Keep markers that point at a retrieved hit, drop the others, quote the cited spans.

    With ``auto_attribute``, an answer left without any valid marker gets markers from
    :func:`attribute`, so every claim that matches a source still links to it.

    Returns:
        The answer with invalid markers removed, one Citation per valid number (in order of
        number), and the sorted invalid numbers the model produced.
    """
    invalid: set[int] = set()

    def rewrite(marker: re.Match[str]) -> str:
        numbers = [int(n) for n in marker.group(1).split(",")]
        keep = [n for n in numbers if 1 <= n <= len(hits)]
        invalid.update(n for n in numbers if n not in keep)
        return "[" + ", ".join(str(n) for n in keep) + "]" if keep else ""

    cleaned = _MARKER.sub(rewrite, answer)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned).strip()
    if auto_attribute and not _MARKER.search(cleaned):
        cleaned = attribute(cleaned, hits)
    citations = []
    for number, claim in sorted(_claims(cleaned).items()):
        hit = hits[number - 1]
        a, b = best_quote(hit.text, claim)
        citations.append(
            Citation(
                number=number,
                document_id=hit.document_id,
                source=hit.source,
                title=hit.title,
                page=hit.page,
                start=None if hit.start is None else hit.start + a,
                end=None if hit.start is None else hit.start + b,
                quote=hit.text[a:b],
            )
        )
    return cleaned, citations, sorted(invalid)
