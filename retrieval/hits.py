"""Stored points as users see them: the newest version of each document, payloads shaped into hits."""

from __future__ import annotations

from typing import Any

from kernel import payload as P
from kernel.models import Hit, ScoredPoint


def newest_versions(points: list[ScoredPoint]) -> list[ScoredPoint]:
    """Drop points of a document version superseded by a newer one in the same result.

    While a changed document is replaced, its new points are written before the old ones are
    deleted; keeping only the newest version makes the switch atomic for readers.
    """
    newest: dict[str, tuple[float, str]] = {}
    for point in points:
        doc = str(point.payload.get(P.DOCUMENT_ID, ""))
        stamp = (float(point.payload.get(P.INGESTED_AT) or 0.0), str(point.payload.get(P.DOC_VERSION, "")))
        if doc not in newest or stamp > newest[doc]:
            newest[doc] = stamp
    return [
        p for p in points if str(p.payload.get(P.DOC_VERSION, "")) == newest[str(p.payload.get(P.DOCUMENT_ID, ""))][1]
    ]


def to_hit(point: ScoredPoint) -> Hit:
    """Shape a stored point's payload into a Hit."""
    pl: dict[str, Any] = point.payload
    return Hit(
        id=point.id,
        score=point.score,
        text=str(pl.get(P.TEXT, "")),
        document_id=str(pl.get(P.DOCUMENT_ID, "")),
        chunk_index=pl.get(P.CHUNK_INDEX),
        kind=str(pl.get(P.KIND, "chunk")),
        source=str(pl.get(P.SOURCE, "")),
        title=pl.get(P.TITLE),
        page=pl.get(P.PAGE),
        heading=pl.get(P.HEADING),
        start=pl.get(P.START),
        end=pl.get(P.END),
        tags=list(pl.get(P.TAGS) or []),
        metadata=dict(pl.get(P.METADATA) or {}),
        context=pl.get(P.CONTEXT) or None,
    )
