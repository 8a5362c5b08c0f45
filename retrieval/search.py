"""Search orchestrator: embed the query (dense and/or BM25), ask the store, shape hits.

Chunk-only search reads the collection alone. With synthetic re-ranking on, the raw candidates
(``synth.rerank_depth`` of them, at least ``k``) are re-ordered by evidence from the collection's
synthetic companion (:mod:`retrieval.evidence`), each within a bounded number of places
(:mod:`retrieval.rerank`); nothing the raw search did not return can enter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from kernel.errors import InvalidRequestError, NotFoundError
from kernel.models import (
    SYNTHETIC_KINDS,
    Diversity,
    Fusion,
    Hit,
    PointKind,
    ScoredPoint,
    SearchFilters,
    SearchMode,
    SparseVec,
    StoreQuery,
)
from kernel.payload import DENSE_VECTOR
from kernel.ports import Embedder, PointStore, SparseEncoder
from kernel.settings import Settings
from kernel.tenancy import synthetic_collection
from knowledge.profile import TeacherProfile
from retrieval.coverage import auto_method, cover, load_model
from retrieval.diversity import DiversityParams, diversify
from retrieval.evidence import Evidence, EvidenceReader
from retrieval.fusion import convex_fuse
from retrieval.hits import newest_versions, to_hit
from retrieval.preference import QueryInterpretation, interpret, prefer, preference_filters
from retrieval.profiles import CollectionProfiles
from retrieval.rerank import RerankParams, rerank_hits
from retrieval.results import SearchResult, SearchTimings
from retrieval.spaces import CollectionSpaces, QueryVector

MAX_QUERY_CHARS = 4000

#: Diversity methods that compare the hits' dense vectors (``auto`` may become either).
_BY_VECTOR = frozenset({Diversity.NEAR_DUPLICATES, Diversity.COVERAGE, Diversity.AUTO})

#: Those of the given document ids whose deletion is under way: their points may still be in the store
#: until the deletion reaches them, and a search must not return them meanwhile.
DeletingFn = Callable[[Collection[str]], Collection[str]]


@dataclass(frozen=True)
class DenseQuery:
    """The dense embedding a search needs: its checked ``text``, embedded by ``embedder`` into ``space``."""

    text: str
    space: str
    embedder: Embedder


class Searcher:
    """Runs the four search modes against one store with one embedder."""

    def __init__(
        self,
        *,
        store: PointStore,
        embedder: Embedder,
        sparse: SparseEncoder,
        settings: Settings,
        profiles: CollectionProfiles | None = None,
        deleting: DeletingFn | None = None,
        spaces: CollectionSpaces | None = None,
    ) -> None:
        """Args: deleting: documents being deleted, whose hits are dropped (None: every document is live);
        spaces: each collection's dense space (None: always the base embedder's)."""
        self._store = store
        self._spaces = spaces
        self._deleting = deleting
        self._embedder = embedder
        self._sparse = sparse
        self._settings = settings
        self._profiles = profiles
        self._evidence = EvidenceReader(store, settings)
        self._coverage = load_model(settings.diversity_coverage_model)

    def embed_query(self, query: str, *, collection: str | None = None, space: str | None = None) -> QueryVector:
        """The dense vector of a query in ``space`` (default: the one ``collection`` searches; the base
        one without a collection), for callers that search several times with it."""
        name, embedder = self._space(collection, space)
        return QueryVector(name, embedder.embed([query.strip()])[0])

    def _space(self, collection: str | None, space: str | None, *, cached_only: bool = False) -> tuple[str, Embedder]:
        """(space, embedder): the collection's active one for None, the base one for ``dense``."""
        if space == DENSE_VECTOR or collection is None or self._spaces is None:
            if space not in (None, DENSE_VECTOR):
                raise InvalidRequestError(f"dense space '{space}' needs a collection with adapted spaces")
            return DENSE_VECTOR, self._embedder
        if space is None:
            return self._spaces.for_search(collection, cached_only=cached_only)
        try:
            record = self._spaces.record(collection, fresh=True, cached_only=cached_only)
            return space, self._spaces.embedder(space, record)
        except KeyError:
            raise InvalidRequestError(f"collection '{collection}' has no dense space '{space}'") from None

    def _vector(self, text: str, collection: str, given: QueryVector | None, space: str | None) -> QueryVector:
        """``given`` when it is in the space this search uses, else the query embedded in that space."""
        name, embedder = self._space(collection, space)
        if given is not None and given.space == name:
            return given
        return QueryVector(name, embedder.embed([text])[0])

    def search(
        self,
        query: str,
        *,
        collection: str,
        k: int | None = None,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
        mmr_diversity: float | None = None,
        query_vector: QueryVector | None = None,
        synthetic: bool | None = None,
        rerank: RerankParams | None = None,
        diversity: Diversity | None = None,
        with_vectors: bool = False,
        space: str | None = None,
        fusion: Fusion | None = None,
    ) -> SearchResult:
        """Search a collection; raises InvalidRequestError on an empty or oversized query.

        Chunks are searched alone unless synthetic re-ranking applies: ``rerank`` given, or
        ``synthetic`` (default: the ``synth.search`` setting, else the collection's teacher
        profile for this mode) with a profile whose strengths are above 0. Filtering on ``kinds``
        searches exactly those kinds instead (synthetic kinds in the companion collection).

        ``diversity`` (default: the ``search_diversity`` setting) re-orders chunk hits
        (:func:`retrieval.diversity.diversify`): the result is the search for
        ``max(k, diversity_candidates)`` hits, re-ordered, cut to ``k``; ``none`` changes nothing.
        ``with_vectors`` also returns the chunk hits' dense vectors (``SearchResult.vectors``).
        Dense search runs in ``space``: by default the collection's active one (:mod:`retrieval.spaces`),
        ``dense`` for the base embedder's, or a staging space by name; a ``query_vector`` of another
        space is ignored. ``fusion`` (default: the ``fusion`` setting) joins the arms of hybrid search:
        ``rrf`` in the store, or ``convex`` (:func:`retrieval.fusion.convex_fuse` over each arm's
        ``prefetch_limit`` best).
        """
        text = _checked(query)
        mode = mode or self._settings.search_mode
        limit = k or self._settings.search_k
        by_kinds = filters is not None and filters.kinds is not None
        method = self._method(filters, diversity)
        fetch = limit if method is Diversity.NONE else max(limit, self._settings.diversity_candidates)
        by_vector = with_vectors or method in _BY_VECTOR
        vectors: dict[str, list[float]] | None = {} if by_vector else None
        params = rerank if rerank is not None else self._params(collection, mode, synthetic)
        timings = SearchTimings()
        started = time.perf_counter()
        need_dense, need_sparse = _arms(mode, method, params)
        space = _space_for(filters, space)
        searched = self._vector(text, collection, query_vector, space) if need_dense else None
        sparse = self._sparse.encode_query(text) if need_sparse else None
        timings.embed_ms = (time.perf_counter() - started) * 1000
        fused = fusion or self._settings.fusion

        def store_query(limit_: int, filters_: SearchFilters | None) -> StoreQuery:
            return self._store_query(mode, limit_, searched, sparse, filters_, mmr_diversity, fusion=fused)

        started = time.perf_counter()
        if by_kinds:
            hits = self._by_kinds(collection, store_query(limit, filters))
        elif params is None or not params.active:
            hits = self._chunks(collection, store_query(fetch, filters), vectors)
        else:
            raw = self._chunks(collection, store_query(max(params.depth, fetch), filters), vectors)
            hits = self._reranked(text, collection, raw, params, searched, sparse, limit=fetch)
        reading = self._interpret(text, collection, filters)
        narrowed = preference_filters(filters, reading) if reading is not None else None
        preferred: set[str] = set()
        if narrowed is not None:
            preferred_hits = self._chunks(collection, store_query(fetch, narrowed), vectors)
            hits = prefer(preferred_hits, hits, fetch)
            preferred = {h.id for h in preferred_hits}
        hits = self._reorder(method, collection, self._live(hits), searched, sparse, filters, vectors, preferred)
        hits = hits[:limit]
        if reading is not None and narrowed is not None:
            reading = reading.model_copy(update={"preferred_hits": sum(h.id in preferred for h in hits)})
        timings.store_ms = (time.perf_counter() - started) * 1000
        found = {h.id: vectors[h.id] for h in hits if h.id in vectors} if vectors is not None else {}
        return SearchResult(hits=hits, mode=mode, timings=timings, interpretation=reading, vectors=found)

    def dense_query(
        self,
        query: str,
        *,
        collection: str,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
        synthetic: bool | None = None,
        diversity: Diversity | None = None,
        space: str | None = None,
        cached_only: bool = False,
    ) -> DenseQuery | None:
        """The embedding :meth:`search` with these arguments needs (None: it needs none), so that a caller
        can compute it elsewhere (the server: on its event loop, batched) and pass it as ``query_vector``.

        With ``cached_only`` it answers from what is in memory (no store read, no model load, no lock
        wait), so that an event loop can call it; the caller moves to a thread on WouldBlock.

        Raises:
            InvalidRequestError: an empty or oversized query, or an unknown ``space``.
            WouldBlock: ``cached_only`` and the answer needs I/O (a stale metadata cache, a model to load).
        """
        text = _checked(query)
        mode = mode or self._settings.search_mode
        params = self._params(collection, mode, synthetic, cached_only=cached_only)
        need_dense, _ = _arms(mode, self._method(filters, diversity), params)
        if not need_dense:
            return None
        name, embedder = self._space(collection, _space_for(filters, space), cached_only=cached_only)
        return DenseQuery(text, name, embedder)

    def _method(self, filters: SearchFilters | None, diversity: Diversity | None) -> Diversity:
        """The diversity method a search applies (none for an explicit kinds search)."""
        if filters is not None and filters.kinds is not None:
            return Diversity.NONE
        return diversity or self._settings.search_diversity

    def _reranked(  # noqa: PLR0917 - private, the pieces of one search
        self,
        text: str,
        collection: str,
        raw: list[Hit],
        params: RerankParams,
        searched: QueryVector | None,
        sparse: SparseVec | None,
        *,
        limit: int,
    ) -> list[Hit]:
        """``raw`` re-ranked by the synthetic items' evidence (:func:`retrieval.rerank.rerank_hits`)."""
        evidence_vector = None
        if params.rerank_lambda > 0 and searched is not None:
            evidence_vector = self._vector(text, collection, searched, DENSE_VECTOR).values
        evidence = self._evidence.read(
            synthetic_collection(collection),
            [h.id for h in raw],
            dense=evidence_vector,
            sparse=sparse if params.expansion_alpha > 0 else None,
        )
        return rerank_hits(raw, evidence, params, limit=limit)

    def _interpret(self, text: str, collection: str, filters: SearchFilters | None) -> QueryInterpretation | None:
        """The query's periods/organisations that some document carries, when preferences apply."""
        if not self._settings.query_preferences or self._profiles is None:
            return None
        if filters is not None and filters.kinds is not None:
            return None  # an explicit kinds search (synthetic items) is not about documents
        periods, organisations = self._profiles.context(collection)
        if not periods and not organisations:
            return None
        reading = interpret(text, periods=periods, organisations=organisations)
        return reading if reading.active else None

    def search_with_evidence(
        self, query: str, *, collection: str, mode: SearchMode, depth: int, query_vector: QueryVector | None = None
    ) -> tuple[list[Hit], Evidence]:
        """The raw top ``depth`` chunk hits and all their synthetic evidence (for calibration and the eval).

        :func:`rerank_hits` over the result gives exactly what :meth:`search` returns with the same parameters.
        """
        text = _checked(query)
        dense = self._vector(text, collection, query_vector, None)
        sparse = self._sparse.encode_query(text)
        fusion = self._settings.fusion
        raw = self._live(
            self._chunks(collection, self._store_query(mode, depth, dense, sparse, None, None, fusion=fusion))
        )
        base = self._vector(text, collection, dense, DENSE_VECTOR)
        evidence = self._evidence.read(
            synthetic_collection(collection), [h.id for h in raw], dense=base.values, sparse=sparse
        )
        return raw, evidence

    def _live(self, hits: list[Hit]) -> list[Hit]:
        """The hits whose document is not being deleted (one look-up for all their documents)."""
        if self._deleting is None or not hits:
            return hits
        gone = set(self._deleting({h.document_id for h in hits}))
        return [h for h in hits if h.document_id not in gone] if gone else hits

    def profile(self, collection: str, *, cached_only: bool = False) -> TeacherProfile | None:
        """The teacher profile stored with a collection, if any (WouldBlock: see :meth:`dense_query`)."""
        return self._profiles(collection, cached_only=cached_only) if self._profiles is not None else None

    def _params(
        self, collection: str, mode: SearchMode, synthetic: bool | None, *, cached_only: bool = False
    ) -> RerankParams | None:
        """Re-ranking parameters for a search, or None for chunk-only search."""
        cfg = self._settings.synth
        wanted = cfg.search if synthetic is None else synthetic
        if wanted is False:
            return None
        profile = self.profile(collection, cached_only=cached_only)
        if profile is None:
            return None
        if wanted is None and mode not in profile.search_modes:
            return None
        return RerankParams(
            rerank_lambda=profile.rerank_lambda if cfg.rerank_lambda is None else cfg.rerank_lambda,
            expansion_alpha=profile.expansion_alpha if cfg.expansion_alpha is None else cfg.expansion_alpha,
            depth=cfg.rerank_depth,
            kinds=tuple(profile.item_kinds),
        )

    def _store_query(  # noqa: PLR0917 - private, one shape for every store query of a search
        self,
        mode: SearchMode,
        limit: int,
        dense: QueryVector | None,
        sparse: SparseVec | None,
        filters: SearchFilters | None,
        mmr_diversity: float | None,
        *,
        fusion: Fusion,
    ) -> StoreQuery:
        cfg = self._settings
        return StoreQuery(
            mode=mode,
            limit=limit,
            dense=dense.values if dense is not None and mode is not SearchMode.BM25 else None,
            sparse=sparse if mode is not SearchMode.DENSE else None,
            filters=filters,
            prefetch_limit=max(cfg.prefetch_limit, limit),
            rrf_k=cfg.rrf_k,
            mmr_diversity=cfg.mmr_diversity if mmr_diversity is None else mmr_diversity,
            mmr_candidates=max(cfg.mmr_candidates, limit),
            dense_space=dense.space if dense is not None else DENSE_VECTOR,
            convex=fusion is Fusion.CONVEX,
        )

    def _reorder(  # noqa: PLR0917 - private, the pieces of one search
        self,
        method: Diversity,
        collection: str,
        hits: list[Hit],
        dense: QueryVector | None,
        sparse: SparseVec | None,
        filters: SearchFilters | None,
        vectors: dict[str, list[float]] | None,
        preferred: set[str],
    ) -> list[Hit]:
        """The first ``diversity_candidates`` hits re-ordered by ``method`` (``auto`` decides here, from them).

        Coverage (:mod:`retrieval.coverage`) reads each arm's own ranking: one dense and one BM25 search,
        ``prefetch_limit`` deep. Hits the query's period/organisation preference put first stay first.
        """
        cfg = self._settings
        head, tail = hits[: cfg.diversity_candidates], hits[cfg.diversity_candidates :]
        if method is Diversity.AUTO:
            method = auto_method(head, long_document=cfg.diversity_long_document)
        if method is not Diversity.COVERAGE:
            return diversify(hits, DiversityParams.of(cfg, method), vectors)
        arms = [
            self._chunks(
                collection, self._store_query(arm, cfg.prefetch_limit, dense, sparse, filters, None, fusion=Fusion.RRF)
            )
            for arm in (SearchMode.DENSE, SearchMode.BM25)
        ]
        found = cover(
            head, dense=arms[0], sparse=arms[1], vectors=vectors or {}, model=self._coverage,
            similarity=cfg.diversity_similarity, first=preferred,
        )  # fmt: skip
        return found + tail

    def _points(self, collection: str, query: StoreQuery) -> list[ScoredPoint]:
        """The store's points for a query; convex hybrid fuses a dense and a BM25 search here."""
        if query.mode is not SearchMode.HYBRID or not query.convex:
            return self._store.query(collection, query)
        arm = {"limit": query.prefetch_limit, "convex": False}
        dense = self._store.query(collection, query.model_copy(update={**arm, "mode": SearchMode.DENSE}))
        sparse = self._store.query(collection, query.model_copy(update={**arm, "mode": SearchMode.BM25}))
        cfg = self._settings
        fused = convex_fuse(
            [(p.id, p.score) for p in dense],
            [(p.id, p.score) for p in sparse],
            dense_weight=cfg.fusion_dense_weight,
            norm=cfg.fusion_norm,
        )
        by_id = {p.id: p for p in sparse} | {p.id: p for p in dense}
        return [by_id[pid].model_copy(update={"score": score}) for pid, score in fused[: query.limit]]

    def _chunks(self, collection: str, query: StoreQuery, vectors: dict[str, list[float]] | None = None) -> list[Hit]:
        """Chunk hits of a query, newest versions only; their dense vectors into ``vectors`` when given."""
        only_chunks = _with_kinds(query.filters, [PointKind.CHUNK])
        update = {"filters": only_chunks, "with_vectors": vectors is not None}
        points = self._points(collection, query.model_copy(update=update))
        if vectors is not None:
            vectors.update({p.id: p.dense for p in points if p.dense is not None})
        if query.mode is not SearchMode.HYBRID_MMR:
            # Equal scores (common in RRF) come back in no fixed order; the id breaks the tie, so one
            # query always gets one ranking. MMR's order is its own, not the scores'.
            points = sorted(points, key=lambda p: (-p.score, p.id))
        return [to_hit(p) for p in newest_versions(points)]

    def _by_kinds(self, collection: str, query: StoreQuery) -> list[Hit]:
        """Exactly the kinds the filter names: chunks from the collection, synthetic items from its companion."""
        kinds = set(query.filters.kinds or []) if query.filters is not None else set()
        synthetic = kinds & set(SYNTHETIC_KINDS)
        if synthetic and PointKind.CHUNK in kinds:
            raise InvalidRequestError(
                "filters.kinds mixes chunks and synthetic kinds; search them in separate requests"
            )
        if not synthetic:
            return [to_hit(p) for p in newest_versions(self._points(collection, query))]
        try:
            points = self._store.query(synthetic_collection(collection), query)
        except NotFoundError:
            return []  # nothing synthesized yet
        return [to_hit(p) for p in newest_versions(points)]


def _arms(mode: SearchMode, method: Diversity, params: RerankParams | None) -> tuple[bool, bool]:
    """(needs the dense vector, needs the BM25 vector) of a search."""
    # Coverage weighs both arms' views of each document, whatever the mode (auto may cover).
    covering = method in {Diversity.COVERAGE, Diversity.AUTO}
    need_dense = covering or mode is not SearchMode.BM25 or (params is not None and params.rerank_lambda > 0)
    need_sparse = covering or mode is not SearchMode.DENSE or (params is not None and params.expansion_alpha > 0)
    return need_dense, need_sparse


def _space_for(filters: SearchFilters | None, space: str | None) -> str | None:
    """``space``, except for synthetic items (their own collection), which only the base model embeds."""
    asked = set(filters.kinds or []) if filters is not None else set()
    return DENSE_VECTOR if asked & set(SYNTHETIC_KINDS) else space


def _checked(query: str) -> str:
    text = query.strip()
    if not text:
        raise InvalidRequestError("query is empty: send some words to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidRequestError(f"query is {len(text)} characters; the limit is {MAX_QUERY_CHARS}")
    return text


def _with_kinds(filters: SearchFilters | None, kinds: list[PointKind]) -> SearchFilters:
    return (filters or SearchFilters()).model_copy(update={"kinds": kinds})
