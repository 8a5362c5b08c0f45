"""Adapter-independent pieces of query building shared by the store adapters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from kernel.errors import InvalidRequestError
from kernel.models import ScoredPoint, SearchFilters, SearchMode, StoreQuery
from kernel.payload import CHUNK_ID, DENSE_VECTOR, DOCUMENT_ID, KIND, METADATA, TAGS

_T = TypeVar("_T")


def match_any_conditions(filters: SearchFilters | None) -> list[tuple[str, list[str]]]:
    """(payload field, accepted values) for each filter that is set; all must hold."""
    if filters is None:
        return []
    pairs: list[tuple[str, list[str] | None]] = [
        (DOCUMENT_ID, filters.document_ids),
        (TAGS, filters.tags),
        (KIND, [str(kind) for kind in filters.kinds] if filters.kinds is not None else None),
        (CHUNK_ID, filters.chunk_ids),
    ]
    pairs += [
        (f"{METADATA}.{key}", [value] if isinstance(value, str) else value)
        for key, value in (filters.metadata or {}).items()
    ]
    return [(key, list(values)) for key, values in pairs if values is not None]


def need(value: _T | None, what: str, query: StoreQuery) -> _T:
    """The query vector a mode requires, or a clear error when the caller did not compute it."""
    if value is None:
        raise InvalidRequestError(f"search mode {query.mode} needs a {what} query vector")
    return value


def native(query: StoreQuery) -> None:
    """Refuse a query the store cannot run itself: convex hybrid is fused by the searcher."""
    if query.convex and query.mode is SearchMode.HYBRID:
        raise InvalidRequestError("convex fusion runs in the searcher: send the dense and BM25 arms separately")


def dense_of(vectors: Any, space: str = DENSE_VECTOR) -> list[float] | None:
    """The dense vector of ``space`` among the named vectors a store returned with a point (None when not asked for)."""
    if not isinstance(vectors, dict):
        return None
    dense = vectors.get(space)
    return [float(v) for v in dense] if isinstance(dense, list) else None


def scored_points(found: Iterable[Any], *, with_vectors: bool, space: str = DENSE_VECTOR) -> list[ScoredPoint]:
    """A store's scored points (either client's shape: ``id``, ``score``, ``payload``, ``vector``) as ours."""
    return [
        ScoredPoint(
            id=str(p.id),
            score=p.score,
            payload=p.payload or {},
            dense=dense_of(p.vector, space) if with_vectors else None,
        )
        for p in found
    ]
