"""Diversifying a search's top hits by re-ordering them, at little cost in relevance.

Each method is a stable partition of the first ``candidates`` hits: the hits it keeps stay in their
order and can only move up; the hits it sets back keep their order too and follow every kept hit.
Hits past the candidates are not touched, and nothing is ever dropped.

* ``per-document``: at most ``per_document`` chunks of one document are kept; a document's further
  chunks are set back (``decay`` 0), or, with ``decay`` in (0, 1), the n-th further chunk's score is
  scaled by ``decay ** n`` and it moves behind the hits that now outscore it (a soft cap: a strong
  second chunk stays ahead of a weak other document). A document's best chunk is always kept, so the
  order of documents (a ranking collapsed to documents, as the BEIR evaluation scores it) is exactly
  the one before.
* ``near-duplicates``: a chunk that repeats an earlier kept one is set back: dense cosine at or above
  ``similarity``, or from the same document with at least half of the shorter span shared.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from kernel.models import Diversity, Hit
from kernel.settings import Settings

#: Two chunks of one document sharing at least this share of the shorter one's span repeat each other.
SPAN_OVERLAP = 0.5

Vectors = Mapping[str, Sequence[float]]


class DiversityParams(BaseModel):
    """How :func:`diversify` re-orders hits (from the ``diversity_*`` settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Diversity = Diversity.NONE
    per_document: int = Field(default=1, ge=1, description="Chunks of one document kept before the others.")
    decay: float = Field(default=0.0, ge=0.0, lt=1.0, description="per-document: score factor per further chunk.")
    similarity: float = Field(default=0.9, ge=0.0, le=1.0, description="Dense cosine of a near-duplicate.")
    candidates: int = Field(default=20, ge=1, description="Top hits re-ordered; the rest stay as they are.")

    @classmethod
    def of(cls, settings: Settings, method: Diversity) -> DiversityParams:
        """``method`` with its bounds from the ``diversity_*`` settings."""
        return cls(
            method=method,
            per_document=settings.diversity_per_document,
            decay=settings.diversity_decay,
            similarity=settings.diversity_similarity,
            candidates=settings.diversity_candidates,
        )


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0.0 when either is all zeros)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y) / norms if norms else 0.0


def unit_vectors(hits: Sequence[Hit], vectors: Vectors) -> dict[str, np.ndarray]:
    """The hits' vectors scaled to length 1 (all-zero ones stay zero), converted once for many comparisons."""
    out: dict[str, np.ndarray] = {}
    for hit in hits:
        vector = vectors.get(hit.id)
        if vector is not None:
            array = np.asarray(vector, dtype=np.float64)
            norm = float(np.linalg.norm(array))
            out[hit.id] = array / norm if norm else array
    return out


def same_span(a: Hit, b: Hit, *, overlap: float = SPAN_OVERLAP) -> bool:
    """Whether two hits are from one document and share at least ``overlap`` of the shorter one's span.

    Hits without character offsets never share a span.
    """
    if a.document_id != b.document_id:
        return False
    if a.start is None or a.end is None or b.start is None or b.end is None:
        return False
    shorter = min(a.end - a.start, b.end - b.start)
    shared = min(a.end, b.end) - max(a.start, b.start)
    return shorter > 0 and shared >= overlap * shorter


def repeats(hit: Hit, earlier: Sequence[Hit], vectors: Vectors, *, similarity: float) -> bool:
    """Whether ``hit`` is a near-duplicate of one of ``earlier``: same span, or dense cosine >= ``similarity``.

    The cosine test needs both vectors in ``vectors`` (by hit id); without them only spans count.
    """
    return _repeats(hit, earlier, unit_vectors([hit, *earlier], vectors), similarity)


def _repeats(hit: Hit, earlier: Sequence[Hit], units: Mapping[str, np.ndarray], similarity: float) -> bool:
    mine = units.get(hit.id)
    for other in earlier:
        if same_span(hit, other):
            return True
        theirs = units.get(other.id)
        if mine is not None and theirs is not None and float(mine @ theirs) >= similarity:
            return True
    return False


def per_document(hits: Sequence[Hit], *, cap: int, decay: float = 0.0) -> list[Hit]:
    """The hits with each document's chunks beyond its best ``cap`` set back (see the module doc).

    With ``decay`` 0 they follow all the others. Otherwise the n-th chunk past the cap waits until
    the next hits score no more than its score scaled by ``decay ** n`` (a negative score moves down
    by the same share). Either way the kept hits keep their order, and a set-back hit never overtakes a
    kept hit that was ahead of it (it may overtake another set-back hit that its own cap hurts more).
    """
    seen: dict[str, int] = {}
    out: list[Hit] = []
    waiting: list[tuple[float, int, Hit]] = []  # set-back hits, best adjusted score first
    for position, hit in enumerate(hits):
        seen[hit.document_id] = seen.get(hit.document_id, 0) + 1
        extra = seen[hit.document_id] - cap
        if extra > 0:
            adjusted = hit.score - (1.0 - decay**extra) * abs(hit.score) if decay > 0.0 else -math.inf
            bisect.insort(waiting, (-adjusted, position, hit), key=lambda item: (item[0], item[1]))
            continue
        while waiting and -waiting[0][0] > hit.score:
            out.append(waiting.pop(0)[2])
        out.append(hit)
    return out + [hit for _, _, hit in waiting]


def near_duplicates(hits: Sequence[Hit], vectors: Vectors, *, similarity: float) -> list[Hit]:
    """The hits with every near-duplicate of an earlier kept hit (see :func:`repeats`) set back."""
    units = unit_vectors(hits, vectors)
    kept: list[Hit] = []
    later: list[Hit] = []
    for hit in hits:
        (later if _repeats(hit, kept, units, similarity) else kept).append(hit)
    return kept + later


def diversify(hits: Sequence[Hit], params: DiversityParams, vectors: Vectors | None = None) -> list[Hit]:
    """The first ``params.candidates`` hits re-ordered by ``params.method``, then the rest unchanged.

    Args:
        hits: Search hits, best first.
        params: The method and its bounds.
        vectors: Dense vectors by hit id, for ``near-duplicates`` (without them only spans count).

    Returns:
        The same hits, re-ordered (``none``: unchanged).
    """
    head, tail = list(hits[: params.candidates]), list(hits[params.candidates :])
    if params.method is Diversity.PER_DOCUMENT:
        head = per_document(head, cap=params.per_document, decay=params.decay)
    elif params.method is Diversity.NEAR_DUPLICATES:
        head = near_duplicates(head, vectors or {}, similarity=params.similarity)
    return head + tail
