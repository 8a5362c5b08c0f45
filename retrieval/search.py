"""Search orchestrator: embed the query (dense and/or BM25), ask the store, shape hits."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kernel import payload as P
from kernel.errors import InvalidRequestError
from kernel.models import Hit, ScoredPoint, SearchFilters, SearchMode, SparseVec, StoreQuery
from kernel.ports import Embedder, SparseEncoder, VectorStore
from kernel.settings import Settings

MAX_QUERY_CHARS = 4000


class SearchTimings(BaseModel):
    """Where a search spent its time, in milliseconds."""

    model_config = ConfigDict(extra="forbid")

    embed_ms: float = 0.0
    store_ms: float = 0.0


class SearchResult(BaseModel):
    """Hits plus timings."""

    model_config = ConfigDict(extra="forbid")

    hits: list[Hit]
    mode: SearchMode
    timings: SearchTimings = Field(default_factory=SearchTimings)


class Searcher:
    """Runs the four search modes against one store with one embedder."""

    def __init__(self, *, store: VectorStore, embedder: Embedder, sparse: SparseEncoder, settings: Settings) -> None:
        self._store = store
        self._embedder = embedder
        self._sparse = sparse
        self._settings = settings

    def embed_query(self, query: str) -> list[float]:
        """The dense vector of a query, for callers that search several times with it."""
        return self._embedder.embed([query.strip()])[0]

    def search(
        self,
        query: str,
        *,
        collection: str,
        k: int | None = None,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
        mmr_diversity: float | None = None,
        query_vector: list[float] | None = None,
    ) -> SearchResult:
        """Search a collection; raises InvalidRequestError on an empty or oversized query."""
        text = query.strip()
        if not text:
            raise InvalidRequestError("query is empty: send some words to search for")
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidRequestError(f"query is {len(text)} characters; the limit is {MAX_QUERY_CHARS}")
        mode = mode or self._settings.search_mode
        limit = k or self._settings.search_k
        timings = SearchTimings()

        started = time.perf_counter()
        dense: list[float] | None = None
        sparse: SparseVec | None = None
        if mode is not SearchMode.BM25:
            # A caller running several searches for one query embeds it once (see embed_query).
            dense = query_vector or self.embed_query(text)
        if mode is not SearchMode.DENSE:
            sparse = self._sparse.encode_query(text)
        timings.embed_ms = (time.perf_counter() - started) * 1000

        store_query = StoreQuery(
            mode=mode,
            limit=limit,
            dense=dense,
            sparse=sparse,
            filters=filters,
            prefetch_limit=max(self._settings.prefetch_limit, limit),
            rrf_k=self._settings.rrf_k,
            mmr_diversity=self._settings.mmr_diversity if mmr_diversity is None else mmr_diversity,
            mmr_candidates=max(self._settings.mmr_candidates, limit),
        )
        started = time.perf_counter()
        points = newest_versions(self._store.query(collection, store_query))
        timings.store_ms = (time.perf_counter() - started) * 1000
        return SearchResult(hits=[to_hit(p) for p in points], mode=mode, timings=timings)


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
    )
