"""Quality filter for synthetic items, as pure functions: repetition, grounding, near-duplicates, round-trip.

Each stage is its own function so that the orchestrator can count what each one drops.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORD_TEXT = """a an and are as at be been but by can could did do does for from had has have how if in into is
    it its of on or so than that the their them then there these they this those to was were what when where which
    who whom why will with would you your not no yes about after before between during over under"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def content_words(text: str) -> set[str]:
    """Lower-cased words without stopwords, with a light plural fold (cells -> cell)."""
    words = set()
    for raw in _WORD.findall(text.lower()):
        if raw in _STOPWORDS:
            continue
        plural = len(raw) > 3 and raw.endswith("s") and not raw.endswith("ss")
        words.add(raw[:-1] if plural else raw)
    return words


def grounding(claim: str, source: str) -> float:
    """Share of the claim's content words that occur in the source (1.0 for a claim with none)."""
    claim_words = content_words(claim)
    if not claim_words:
        return 0.0
    return len(claim_words & content_words(source)) / len(claim_words)


def repetition(text: str) -> float:
    """Share of repeated words in a text (0 for all-distinct words); degenerate generations loop."""
    words = _WORD.findall(text.lower())
    if len(words) < 4:
        return 0.0
    return 1.0 - len(set(words)) / len(words)


def near_duplicates(vectors: Sequence[Sequence[float]], *, max_similarity: float) -> list[int | None]:
    """For each vector, the index of an earlier kept vector it nearly repeats (cosine >= max_similarity), else None.

    Vectors are L2-normalized embeddings; the first of a group is kept, later ones point at it.
    """
    if not vectors:
        return []
    matrix = np.asarray(vectors, dtype=np.float32)
    similarity = matrix @ matrix.T
    kept: list[int] = []
    out: list[int | None] = []
    for i in range(len(matrix)):
        twin = next((j for j in kept if similarity[i, j] >= max_similarity), None)
        out.append(twin)
        if twin is None:
            kept.append(i)
    return out


def round_trip(own_chunk_id: str, ranked_chunk_ids: Sequence[str], *, k: int) -> int | None:
    """Rank (1-based) of the question's own chunk among the chunks it retrieves, if within top ``k``."""
    for rank, chunk_id in enumerate(ranked_chunk_ids[:k], 1):
        if chunk_id == own_chunk_id:
            return rank
    return None
