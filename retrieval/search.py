"""Search orchestrator: embed the query (dense and/or BM25), ask the store, shape hits."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kernel import payload as P
from kernel.errors import InvalidRequestError
from kernel.models import (
    SYNTHETIC_KINDS,
    Hit,
    PointKind,
    ScoredPoint,
    SearchFilters,
    SearchMode,
    SparseVec,
    StoreQuery,
)
from kernel.ports import Embedder, PointStore, SparseEncoder
from kernel.settings import Settings
from retrieval.fusion import rrf_fuse

#: Synthetic items fetched per chunk hit wanted: several items may point at one chunk.
_SYNTHETIC_FANOUT = 3

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

    def __init__(self, *, store: PointStore, embedder: Embedder, sparse: SparseEncoder, settings: Settings) -> None:
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
        synthetic: bool | None = None,
    ) -> SearchResult:
        """Search a collection; raises InvalidRequestError on an empty or oversized query.

        With ``synthetic`` (default: the ``synth.search`` setting) chunks and synthetic items are
        searched separately; synthetic hits collapse onto their parent chunk (its best item wins)
        and the two rankings are fused with the synthetic one weighted ``synth.weight`` < 1, so a
        weak teacher can lift a chunk but not push strong chunk hits out. Filtering on ``kinds``
        searches exactly those kinds instead.
        """
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
        use_synthetic = self._settings.synth.search if synthetic is None else synthetic
        started = time.perf_counter()
        if filters is not None and filters.kinds is not None:
            hits = [to_hit(p) for p in newest_versions(self._store.query(collection, store_query))]
        elif not use_synthetic or self._settings.synth.weight <= 0:
            only_chunks = _with_kinds(filters, [PointKind.CHUNK])
            points = self._store.query(collection, store_query.model_copy(update={"filters": only_chunks}))
            hits = [to_hit(p) for p in newest_versions(points)]
        else:
            hits = self._fused(collection, store_query, filters, limit)
        timings.store_ms = (time.perf_counter() - started) * 1000
        return SearchResult(hits=hits, mode=mode, timings=timings)

    def _fused(self, collection: str, query: StoreQuery, filters: SearchFilters | None, limit: int) -> list[Hit]:
        chunk_points = newest_versions(
            self._store.query(collection, query.model_copy(update={"filters": _with_kinds(filters, [PointKind.CHUNK])}))
        )
        # MMR diversifies the chunk ranking; synthetic items are ranked by plain hybrid/dense/BM25.
        synth_mode = SearchMode.HYBRID if query.mode is SearchMode.HYBRID_MMR else query.mode
        synth_limit = min(limit * _SYNTHETIC_FANOUT, 1000)
        synth_query = query.model_copy(
            update={
                "mode": synth_mode,
                "limit": synth_limit,
                "prefetch_limit": max(query.prefetch_limit, synth_limit),
                "filters": _with_kinds(filters, list(SYNTHETIC_KINDS)),
            }
        )
        synth_points = newest_versions(self._store.query(collection, synth_query))
        by_id: dict[str, Hit] = {p.id: to_hit(p) for p in chunk_points}
        matched: dict[str, ScoredPoint] = {}
        synth_ranking: list[str] = []
        for point in synth_points:
            parent = str(point.payload.get(P.CHUNK_ID, ""))
            if not parent or parent in matched:
                continue  # the best item of a chunk is its evidence; later ones add nothing
            matched[parent] = point
            synth_ranking.append(parent)
        fused = rrf_fuse(
            [[p.id for p in chunk_points], synth_ranking],
            k=self._settings.rrf_k,
            weights=[1.0, self._settings.synth.weight],
        )
        hits: list[Hit] = []
        for chunk_id, score in fused[:limit]:
            base = by_id.get(chunk_id) or _parent_hit(chunk_id, matched[chunk_id])
            item = matched.get(chunk_id)
            update: dict[str, Any] = {"score": score}
            if item is not None:
                update |= {"matched_kind": item.payload.get(P.KIND), "matched_text": item.payload.get(P.TEXT)}
            hits.append(base.model_copy(update=update))
        return hits


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


def _with_kinds(filters: SearchFilters | None, kinds: list[PointKind]) -> SearchFilters:
    return (filters or SearchFilters()).model_copy(update={"kinds": kinds})


def _parent_hit(chunk_id: str, item: ScoredPoint) -> Hit:
    """The parent chunk of a synthetic item, rebuilt from the copy of its payload the item carries."""
    payload = {**item.payload, P.KIND: PointKind.CHUNK.value, P.TEXT: item.payload.get(P.PARENT_TEXT, "")}
    return to_hit(ScoredPoint(id=chunk_id, score=item.score, payload=payload))


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
