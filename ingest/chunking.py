"""Structure-aware chunking: pack paragraphs into token-bounded, overlapping chunks with exact offsets."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from kernel.models import Chunk, Document, Section

CountTokens = Callable[[Sequence[str]], list[int]]

# Separators are whitespace only, so a chunk boundary never drops anything but spaces.
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)\]]))\s+|(?<=[。！？])\s*")
_WORD_GAP = re.compile(r"\s+")
_BREAK = re.compile(f"{_PARAGRAPH.pattern}|{_SENTENCE.pattern}")
_WORD = re.compile(r"(?<!\S)\S+")  # whole words only, even when a search starts mid-word
# Word-piece tokenizers give every word at least one token, English ~1.3 on average.
_MIN_TOKENS_PER_WORD = 1.1
_SPLITTERS = (_SENTENCE, _WORD_GAP)  # what splits a piece at depth 0 (paragraph) and 1 (sentence)


@dataclass(frozen=True, slots=True)
class _Piece:
    """A span to pack: a paragraph, else a sentence, else a word (else part of a huge word)."""

    start: int
    end: int
    segment: int  # index of the section it lies in (page and heading come from there)
    group: int  # heading group; chunks never span two
    heading: bool
    depth: int = 0  # 0 paragraph, 1 sentence, 2 word
    tokens: int = -1  # unknown until counted


@dataclass(slots=True)
class _Draft:
    """A chunk being planned: pieces first..last, starting at ``start``."""

    start: int  # before pieces[first].start when the chunk opens with an overlap
    first: int
    last: int


def _memoised(count_tokens: CountTokens) -> CountTokens:
    """The tokenizer, asked once per distinct text (chunks made of one piece cost nothing more)."""
    cache: dict[str, int] = {}

    def count(texts: Sequence[str]) -> list[int]:
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            counts = count_tokens(missing)
            if len(counts) != len(missing):
                raise ValueError(f"count_tokens returned {len(counts)} counts for {len(missing)} texts")
            cache.update(zip(missing, counts, strict=True))
        return [cache[t] for t in texts]

    return count


def _spans(text: str, start: int, end: int, separator: re.Pattern[str]) -> list[tuple[int, int]]:
    """Non-blank pieces of text[start:end] between separator matches, trimmed of whitespace."""
    bounds = [start]
    for match in separator.finditer(text, start, end):
        bounds += [match.start(), match.end()]
    bounds.append(end)
    out = []
    for a, b in zip(bounds[::2], bounds[1::2], strict=True):
        left = a + len(text[a:b]) - len(text[a:b].lstrip())
        if (size := len(text[a:b].strip())) > 0:
            out.append((left, left + size))
    return out


def _segments(doc: Document) -> list[Section]:
    """The sections in order, clipped so they do not overlap, with any uncovered text added back."""
    text, out, pos = doc.text, [], 0
    previous = Section(start=0, end=0)
    for section in sorted(doc.sections, key=lambda s: (s.start, s.end)):
        start, end = max(section.start, pos), min(section.end, len(text))
        if end <= start:
            continue
        if text[pos:start].strip():
            out.append(previous.model_copy(update={"start": pos, "end": start, "level": 0}))
        out.append(section.model_copy(update={"start": start, "end": end}))
        previous, pos = section, end
    if text[pos:].strip():
        out.append(previous.model_copy(update={"start": pos, "end": len(text), "level": 0}))
    return out


def _paragraphs(text: str, segments: list[Section]) -> list[_Piece]:
    """Paragraph pieces of every section, numbered into heading groups, not yet counted."""
    out: list[_Piece] = []
    group = 0
    for index, section in enumerate(segments):
        heading = section.level > 0
        # A run of headings opens a new group; the text under it stays with it.
        if heading and out and not out[-1].heading:
            group += 1
        out += [_Piece(a, b, index, group, heading) for a, b in _spans(text, section.start, section.end, _PARAGRAPH)]
    return out


def _children(text: str, piece: _Piece, max_tokens: int) -> list[_Piece]:
    """Split a piece one level finer; a piece that will not split goes down another level."""
    depth = piece.depth
    while depth < len(_SPLITTERS):
        spans = _spans(text, piece.start, piece.end, _SPLITTERS[depth])
        depth += 1
        if len(spans) > 1:
            return [replace(piece, start=a, end=b, depth=depth) for a, b in spans]
    if piece.end - piece.start < 2:
        return [replace(piece, tokens=max_tokens)]  # one character; nothing smaller exists
    # A single "word" over the limit (a long URL, a base64 blob) has to be cut inside.
    mid = (piece.start + piece.end) // 2
    return [replace(piece, end=mid, depth=depth), replace(piece, start=mid, depth=depth)]


def _measure(text: str, pieces: list[_Piece], count: CountTokens, max_tokens: int) -> list[_Piece]:
    """Count every piece, splitting those over their limit; one tokenizer batch per level."""
    while any(p.tokens < 0 for p in pieces):
        # A piece whose word count alone shows it is over its limit is split without a count;
        # were the guess wrong, its parts would just be packed back together.
        obvious = {
            i
            for i, p in enumerate(pieces)
            if p.tokens < 0
            and p.depth < len(_SPLITTERS)
            and len(text[p.start : p.end].split()) * _MIN_TOKENS_PER_WORD > max_tokens
        }
        todo = [p for i, p in enumerate(pieces) if p.tokens < 0 and i not in obvious]
        counts = iter(count([text[p.start : p.end] for p in todo]))
        refined: list[_Piece] = []
        lead = 0  # tokens of the headings just above the current piece
        for i, piece in enumerate(pieces):
            known = piece.tokens >= 0
            n = piece.tokens if known else max_tokens + 1 if i in obvious else next(counts)
            limit = max_tokens
            if piece.heading:
                lead += n
            else:
                # The first paragraph under a heading must fit beside it, or it is split so it can.
                if piece.depth == 0 and 0 < lead <= max_tokens // 2:
                    limit = max_tokens - lead
                lead = 0
            if known or n <= limit:
                refined.append(replace(piece, tokens=n))
            else:
                refined += _children(text, piece, max_tokens)
        pieces = refined
    return pieces


def _overlap(text: str, pieces: list[_Piece], draft: _Draft, target: int) -> tuple[int, int] | None:
    """Where the next chunk starts to repeat about ``target`` tokens of the previous one, and how many.

    Walks whole words back from the end (never into a heading), estimating each word at its
    piece's own tokens-per-word, then moves forward to a sentence or paragraph start if that
    keeps at least half the target.
    """
    estimate: dict[int, float] = {}
    boundaries: set[int] = set()
    total = 0.0
    for k in range(draft.last, draft.first - 1, -1):
        piece = pieces[k]
        if piece.heading:
            break
        words = [m.start() for m in _WORD.finditer(text, piece.start, piece.end)]
        per_word = piece.tokens / max(len(words), 1)
        whole = True
        for start in reversed([w for w in words if w >= draft.start]):
            if total + per_word > target:
                whole = False
                break
            total += per_word
            estimate[start] = total
        if not whole:
            break
        if piece.depth <= 1:  # paragraphs and sentences start on a natural boundary
            boundaries.add(piece.start)
    if not estimate:
        return None
    earliest = min(estimate)
    end = pieces[draft.last].end
    boundaries.update(m.end() for m in _BREAK.finditer(text, max(earliest - 1, 0), end))
    for start in sorted(b for b in boundaries if b in estimate):
        if estimate[start] >= target / 2:
            return start, math.ceil(estimate[start])
    return earliest, math.ceil(estimate[earliest])


def _pack(text: str, pieces: list[_Piece], max_tokens: int, overlap_tokens: int) -> list[_Draft]:
    """Greedy packing in order; a chunk closes at a heading group's end or when the next piece won't fit."""
    drafts: list[_Draft] = []
    current: _Draft | None = None
    used = 0
    for i, piece in enumerate(pieces):
        if current is not None and pieces[current.last].group == piece.group:
            if used + piece.tokens <= max_tokens:
                current.last, used = i, used + piece.tokens
                continue
            drafts.append(current)
            target = min(overlap_tokens, max_tokens - piece.tokens, used // 2)
            found = _overlap(text, pieces, current, target) if target > 0 else None
            start, repeated = found or (piece.start, 0)
            current, used = _Draft(start, i, i), repeated + piece.tokens
            continue
        if current is not None:
            drafts.append(current)
        current, used = _Draft(piece.start, i, i), piece.tokens
    if current is not None:
        drafts.append(current)
    return drafts


def _verify(
    text: str, pieces: list[_Piece], drafts: list[_Draft], count: CountTokens, max_tokens: int
) -> list[tuple[_Draft, int]]:
    """Count each chunk's real text; trim overlaps (then split chunks) until every one fits."""
    while True:
        counts = count([text[d.start : pieces[d.last].end] for d in drafts])
        fixed: list[_Draft] = []
        changed = False
        for draft, n in zip(drafts, counts, strict=True):
            own_start = pieces[draft.first].start
            if fixed and draft.start <= fixed[-1].start < own_start:
                # Trimming the previous chunk's overlap can leave this overlap swallowing all of it.
                later = (m.start() for m in _WORD.finditer(text, fixed[-1].start + 1, own_start))
                fixed.append(_Draft(next(later, own_start), draft.first, draft.last))
                changed = True
            elif n <= max_tokens or (draft.start == own_start and draft.first == draft.last):
                fixed.append(draft)
            elif draft.start < own_start:
                # Each word is a token or more, so dropping `excess` words usually fits; else next round.
                words = [m.start() for m in _WORD.finditer(text, draft.start, own_start)] + [own_start]
                fixed.append(_Draft(words[min(n - max_tokens, len(words) - 1)], draft.first, draft.last))
                changed = True
            else:  # only a counter that is not additive over words gets here
                mid = (draft.first + draft.last + 1) // 2
                fixed.append(_Draft(draft.start, draft.first, mid - 1))
                fixed.append(_Draft(pieces[mid].start, mid, draft.last))
                changed = True
        if not changed:
            return list(zip(fixed, counts, strict=True))
        drafts = fixed


def chunk_document(
    doc: Document,
    *,
    document_id: str,
    count_tokens: CountTokens,
    max_tokens: int,
    overlap_tokens: int,
) -> list[Chunk]:
    """Split a document into chunks that fit the embedding model, following its structure.

    Whole paragraphs are packed together; a heading starts a new chunk; a paragraph too long
    for one chunk is split at sentences, then words. Consecutive chunks under the same heading
    repeat about ``overlap_tokens`` tokens of whole words, preferably whole sentences.

    Args:
        doc: the parsed document.
        document_id: stored on every chunk.
        count_tokens: number of embedding word pieces of each text, batched.
        max_tokens: hard upper bound on every chunk's ``n_tokens`` (checked on the final text).
        overlap_tokens: tokens to repeat between consecutive chunks; 0 for none.

    Returns:
        Chunks in document order, indexed from 0, each ``text == doc.text[start:end]``.

    Raises:
        ValueError: the limits are impossible, or count_tokens returned the wrong number of counts.
    """
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"need 0 <= overlap_tokens < max_tokens, got {overlap_tokens} and {max_tokens}")
    text = doc.text
    if not text.strip():
        return []
    count = _memoised(count_tokens)
    segments = _segments(doc)
    pieces = _measure(text, _paragraphs(text, segments), count, max_tokens)
    drafts = _pack(text, pieces, max_tokens, overlap_tokens)
    starts = [p.start for p in pieces]
    chunks = []
    for index, (draft, n) in enumerate(_verify(text, pieces, drafts, count, max_tokens)):
        # Page and heading come from where the chunk starts, which may be inside an earlier piece.
        at = segments[pieces[bisect_right(starts, draft.start) - 1].segment]
        start, end = draft.start, pieces[draft.last].end
        chunks.append(
            Chunk(
                document_id=document_id,
                index=index,
                text=text[start:end],
                start=start,
                end=end,
                page=at.page,
                heading=at.heading,
                n_tokens=n,
            )
        )
    return chunks
