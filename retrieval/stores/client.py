"""VectorStore on qdrant-client: a Qdrant server or cluster (qdrant-client's local mode in tests)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from qdrant_client import QdrantClient, models

from kernel.errors import InvalidRequestError, NotFoundError, StoreError, SynthragError
from kernel.models import (
    PointKind,
    ScoredPoint,
    SearchFilters,
    SearchMode,
    SparseVec,
    StoredPoint,
    StoreQuery,
    VectorLayout,
)
from kernel.payload import DENSE_VECTOR, DOCUMENT_ID, KEYWORD_FIELDS, KIND, SPARSE_VECTOR
from retrieval.stores.common import match_any_conditions, native, need, scored_points

_META_KEY = "synthrag"
_SCROLL_PAGE = 1000


def _filter(
    filters: SearchFilters | None, *, document_id: str | None = None, kinds: Sequence[PointKind] | None = None
) -> models.Filter | None:
    must: list[models.Condition] = []
    if document_id is not None:
        must.append(models.FieldCondition(key=DOCUMENT_ID, match=models.MatchValue(value=document_id)))
    if kinds is not None:
        must.append(models.FieldCondition(key=KIND, match=models.MatchAny(any=[str(kind) for kind in kinds])))
    for key, values in match_any_conditions(filters):
        must.append(models.FieldCondition(key=key, match=models.MatchAny(any=values)))
    return models.Filter(must=must) if must else None


def _sparse(vector: SparseVec) -> models.SparseVector:
    return models.SparseVector(indices=vector.indices, values=vector.values)


def _search_params(layout: VectorLayout) -> models.SearchParams | None:
    if layout.quantization == "none":
        return None
    return models.SearchParams(
        quantization=models.QuantizationSearchParams(rescore=True, oversampling=layout.oversampling)
    )


def _request(query: StoreQuery, params: models.SearchParams | None = None) -> dict[str, Any]:
    """Keyword arguments of ``query_points`` for one StoreQuery; ``params`` go with the dense search."""
    native(query)
    flt = _filter(query.filters)
    common: dict[str, Any] = {"limit": query.limit, "query_filter": flt, "with_payload": True}
    if query.with_vectors:
        common["with_vectors"] = [query.dense_space]
    if query.mode is SearchMode.DENSE:
        return {
            "query": need(query.dense, "dense", query),
            "using": query.dense_space,
            "search_params": params,
            **common,
        }
    if query.mode is SearchMode.BM25:
        return {"query": _sparse(need(query.sparse, "sparse", query)), "using": SPARSE_VECTOR, **common}
    dense, sparse = need(query.dense, "dense", query), _sparse(need(query.sparse, "sparse", query))
    arms = [
        models.Prefetch(query=dense, using=query.dense_space, limit=query.prefetch_limit, filter=flt, params=params),
        models.Prefetch(query=sparse, using=SPARSE_VECTOR, limit=query.prefetch_limit, filter=flt),
    ]
    rrf = models.RrfQuery(rrf=models.Rrf(k=query.rrf_k))
    if query.mode is SearchMode.HYBRID:
        return {"query": rrf, "prefetch": arms, **common}
    # hybrid-mmr: MMR re-ranks the RRF-fused candidates of both arms (a nested prefetch).
    fused = models.Prefetch(prefetch=arms, query=rrf, limit=query.mmr_candidates, filter=flt)
    mmr = models.Mmr(diversity=query.mmr_diversity, candidates_limit=query.mmr_candidates)
    nearest = models.NearestQuery(nearest=dense, mmr=mmr)
    return {"query": nearest, "using": query.dense_space, "prefetch": [fused], **common}


def _quantization(layout: VectorLayout) -> models.ScalarQuantization | None:
    if layout.quantization == "none":
        return None
    return models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
    )


class ClientStore:
    """Collections on a Qdrant server (>= 1.16), through a QdrantClient.

    Every search mode runs natively in one ``query_points`` call: RRF with its ``k`` (server >= 1.16)
    and MMR over the fused candidates (server >= 1.15). Collection metadata lives in Qdrant's own
    collection ``metadata`` (server >= 1.16) under the single key ``synthrag``: Qdrant merges metadata
    updates key by key, so rewriting that one key replaces all of ours in one atomic update, and no
    reserved point or sidecar file can drift from the collection.
    """

    def __init__(
        self,
        client: QdrantClient,
        *,
        shards: int = 1,
        replication: int = 1,
        write_consistency: int = 1,
        layout: VectorLayout | None = None,
    ) -> None:
        """Args: client: connected client (:meth:`close` closes it); shards, replication and
        write_consistency: layout of collections this store creates on a cluster (local mode ignores it);
        layout: how new collections keep their dense vectors (default: float32 in RAM).
        """
        self._client = client
        self._layout = layout or VectorLayout()
        self._shards, self._replication, self._write_consistency = shards, replication, write_consistency
        # The server orders concurrent writes itself; the lock keeps count-then-delete atomic.
        self._lock = threading.RLock()
        # qdrant-client's local mode is plain Python and breaks when a search runs during an
        # upsert, so there reads take the lock too; a server takes concurrent reads.
        options = client.init_options
        self._local = options.get("location") == ":memory:" or options.get("path") is not None
        # Local mode searches exactly and refuses search parameters; a server rescores quantized hits.
        self._params = None if self._local else _search_params(self._layout)

    def _reading(self) -> AbstractContextManager[object]:
        return self._lock if self._local else nullcontext()

    def _failure(self, error: Exception, what: str, collection: str) -> SynthragError:
        """Tell a missing collection (NotFoundError) from a failing backend (StoreError)."""
        if isinstance(error, SynthragError):
            return error
        try:
            with self._reading():
                exists = self._client.collection_exists(collection)
        except Exception:
            exists = True  # unreachable server: report the original failure
        if not exists:
            return NotFoundError(f"collection '{collection}' does not exist")
        return StoreError(f"{what} in collection '{collection}' failed: {error}")

    def ensure_collection(self, name: str, *, dim: int) -> None:
        """Create the collection (and payload indexes) if missing; refuse a different dimension."""
        with self._lock:
            try:
                if not self._client.collection_exists(name):
                    self._client.create_collection(
                        name,
                        vectors_config={
                            DENSE_VECTOR: models.VectorParams(
                                size=dim, distance=models.Distance.COSINE, on_disk=self._layout.on_disk or None
                            )
                        },
                        quantization_config=_quantization(self._layout),
                        sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                        shard_number=self._shards,
                        replication_factor=self._replication,
                        write_consistency_factor=self._write_consistency,
                    )
                info = self._client.get_collection(name)
                for field in KEYWORD_FIELDS:
                    if field not in info.payload_schema:
                        self._client.create_payload_index(name, field, models.PayloadSchemaType.KEYWORD, wait=True)
            except Exception as e:
                raise StoreError(f"cannot create collection '{name}': {e}") from e
        vectors = info.config.params.vectors
        stored = vectors[DENSE_VECTOR].size if isinstance(vectors, dict) and DENSE_VECTOR in vectors else None
        if stored != dim:
            raise InvalidRequestError(
                f"collection '{name}' holds {stored}-d '{DENSE_VECTOR}' vectors, the embedder makes {dim}-d "
                "ones; use the model it was built with or a new collection"
            )

    def exists(self, name: str) -> bool:
        """Whether the collection exists (one ``collection_exists`` call)."""
        try:
            with self._reading():
                return self._client.collection_exists(name)
        except Exception as e:
            raise StoreError(f"checking collection '{name}' failed: {e}") from e

    def list_collections(self) -> list[str]:
        """Names of existing collections."""
        try:
            with self._reading():
                return sorted(c.name for c in self._client.get_collections().collections)
        except Exception as e:
            raise StoreError(f"listing collections failed: {e}") from e

    def drop_collection(self, name: str) -> None:
        """Delete a collection and all its points (no-op when missing)."""
        with self._lock:
            try:
                self._client.delete_collection(name)
            except Exception as e:
                raise StoreError(f"cannot drop collection '{name}': {e}") from e

    def upsert(self, collection: str, points: Sequence[StoredPoint]) -> None:
        """Insert or replace points by id."""
        if not points:
            return
        structs = [
            models.PointStruct(
                id=p.id,
                vector={DENSE_VECTOR: p.dense, SPARSE_VECTOR: _sparse(p.sparse), **p.extra_dense},
                payload=p.payload,
            )
            for p in points
        ]
        with self._lock:
            try:
                self._client.upsert(collection, points=structs, wait=True)
            except Exception as e:
                raise self._failure(e, "upsert", collection) from e

    def query(self, collection: str, query: StoreQuery) -> list[ScoredPoint]:
        """Run a search; results best first (for hybrid-mmr: in MMR order, scored by similarity)."""
        request = _request(query, self._params)
        try:
            with self._reading():
                found = self._client.query_points(collection, **request).points
        except Exception as e:
            raise self._failure(e, "search", collection) from e
        return scored_points(found, with_vectors=query.with_vectors, space=query.dense_space)

    def set_payload(
        self, collection: str, point_ids: Sequence[str], values: dict[str, Any], *, key: str | None = None
    ) -> None:
        """Merge ``values`` into the payload of points (into the nested object ``key`` if given)."""
        if not point_ids:
            return
        with self._lock:
            try:
                self._client.set_payload(collection, payload=values, points=list(point_ids), key=key, wait=True)
            except Exception as e:
                raise self._failure(e, "set_payload", collection) from e

    def delete(self, collection: str, point_ids: Sequence[str]) -> None:
        """Delete points by id (missing ids and collections are ignored)."""
        if not point_ids:
            return
        selector = models.PointIdsList(points=list(point_ids))
        with self._lock:
            try:
                self._client.delete(collection, points_selector=selector, wait=True)
            except Exception as e:
                error = self._failure(e, "delete", collection)
                if not isinstance(error, NotFoundError):
                    raise error from e

    def delete_document(self, collection: str, document_id: str) -> int:
        """Delete every point of a document; returns how many were removed."""
        flt = _filter(None, document_id=document_id)
        assert flt is not None
        with self._lock:  # count and delete as one step, so the count is what was removed
            removed = self._count(collection, flt)
            if removed:
                try:
                    self._client.delete(collection, points_selector=models.FilterSelector(filter=flt), wait=True)
                except Exception as e:
                    raise self._failure(e, "delete", collection) from e
            return removed

    def document_point_ids(
        self, collection: str, document_id: str, *, kinds: Sequence[PointKind] | None = None
    ) -> set[str]:
        """Ids of a document's points, of the given kinds or all (empty when the collection is missing)."""
        flt = _filter(None, document_id=document_id, kinds=kinds)
        ids: set[str] = set()
        offset: models.ExtendedPointId | None = None
        while True:
            try:
                with self._reading():
                    records, offset = self._client.scroll(
                        collection, scroll_filter=flt, limit=_SCROLL_PAGE, offset=offset, with_payload=False
                    )
            except Exception as e:
                error = self._failure(e, "scroll", collection)
                if isinstance(error, NotFoundError):
                    return set()
                raise error from e
            ids.update(str(r.id) for r in records)
            if offset is None:
                return ids

    def documents_point_kinds(self, collection: str, document_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """For each of these documents that has points, ``{point id: kind}``: one paged scroll for all of them
        (empty when the collection is missing)."""
        found: dict[str, dict[str, str]] = {}
        if not document_ids:
            return found
        match = models.MatchAny(any=list(document_ids))
        flt = models.Filter(must=[models.FieldCondition(key=DOCUMENT_ID, match=match)])
        offset: models.ExtendedPointId | None = None
        while True:
            try:
                with self._reading():
                    records, offset = self._client.scroll(
                        collection,
                        scroll_filter=flt,
                        limit=_SCROLL_PAGE,
                        offset=offset,
                        with_payload=[DOCUMENT_ID, KIND],
                    )
            except Exception as e:
                error = self._failure(e, "scroll", collection)
                if isinstance(error, NotFoundError):
                    return {}
                raise error from e
            for record in records:
                payload = record.payload or {}
                found.setdefault(str(payload.get(DOCUMENT_ID)), {})[str(record.id)] = str(payload.get(KIND))
            if offset is None:
                return found

    def add_dense_space(self, collection: str, space: str, *, dim: int) -> None:
        """Add an empty named dense vector (cosine) to the collection; no-op when it is there."""
        if space in self.dense_spaces(collection):
            return
        config = models.DenseVectorNameConfig(dense=models.DenseVectorConfig(size=dim, distance=models.Distance.COSINE))
        with self._lock:
            try:
                self._client.create_vector_name(collection, space, config, wait=True)
            except Exception as e:
                raise self._failure(e, "adding a vector space", collection) from e

    def drop_dense_space(self, collection: str, space: str) -> None:
        """Remove a named dense vector and all its vectors (no-op when missing; never the base one)."""
        if space == DENSE_VECTOR:
            raise InvalidRequestError("the base dense vectors cannot be dropped")
        if space not in self.dense_spaces(collection):
            return
        with self._lock:
            try:
                self._client.delete_vector_name(collection, space, wait=True)
            except Exception as e:
                raise self._failure(e, "dropping a vector space", collection) from e

    def dense_spaces(self, collection: str) -> list[str]:
        """Names of the collection's dense vectors, the base one first."""
        try:
            with self._reading():
                vectors = self._client.get_collection(collection).config.params.vectors
        except Exception as e:
            raise self._failure(e, "reading the vector spaces", collection) from e
        names = list(vectors) if isinstance(vectors, dict) else [DENSE_VECTOR]
        return sorted(names, key=lambda name: (name != DENSE_VECTOR, name))

    def set_dense(self, collection: str, space: str, vectors: dict[str, list[float]]) -> None:
        """Write the ``space`` vectors of existing points."""
        if not vectors:
            return
        batch = [models.PointVectors(id=pid, vector={space: vector}) for pid, vector in vectors.items()]
        with self._lock:
            try:
                self._client.update_vectors(collection, points=batch, wait=True)
            except Exception as e:
                raise self._failure(e, "update_vectors", collection) from e

    def scan(
        self, collection: str, *, offset: str | None, limit: int, missing: str | None = None
    ) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        """A page of (id, payload) in id order from ``offset``, and the next offset (None at the end).

        With ``missing``, only points that have no vector in that dense space.
        """
        flt = None
        if missing is not None:
            flt = models.Filter(must_not=[models.HasVectorCondition(has_vector=missing)])
        try:
            with self._reading():
                records, following = self._client.scroll(
                    collection, scroll_filter=flt, limit=limit, offset=offset, with_payload=True
                )
        except Exception as e:
            raise self._failure(e, "scroll", collection) from e
        page = [(str(r.id), dict(r.payload or {})) for r in records]
        return page, str(following) if following is not None else None

    def get_metadata(self, collection: str) -> dict[str, Any]:
        """Collection-level metadata ({} when none was set or the collection is missing)."""
        try:
            with self._reading():
                stored = self._client.get_collection(collection).config.metadata or {}
        except Exception as e:
            error = self._failure(e, "reading metadata", collection)
            if isinstance(error, NotFoundError):
                return {}
            raise error from e
        ours = stored.get(_META_KEY)
        return dict(ours) if isinstance(ours, dict) else {}

    def set_metadata(self, collection: str, metadata: dict[str, Any]) -> None:
        """Replace the collection-level metadata."""
        with self._lock:
            try:
                self._client.update_collection(collection, metadata={_META_KEY: metadata})
            except Exception as e:
                raise self._failure(e, "writing metadata", collection) from e

    def count(self, collection: str) -> int:
        """Number of points in a collection (0 when missing)."""
        return self._count(collection, None)

    def _count(self, collection: str, flt: models.Filter | None) -> int:
        try:
            with self._reading():
                return self._client.count(collection, count_filter=flt, exact=True).count
        except Exception as e:
            error = self._failure(e, "count", collection)
            if isinstance(error, NotFoundError):
                return 0
            raise error from e

    def optimize(self, collection: str) -> None:
        """No-op: the server's optimizers index new points in the background."""

    def close(self) -> None:
        """Close the client's connections."""
        try:
            self._client.close()
        except Exception as e:
            raise StoreError(f"closing the Qdrant client failed: {e}") from e
