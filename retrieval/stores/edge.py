"""VectorStore on qdrant-edge (Qdrant's Rust engine in-process): one shard directory per collection."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from kernel.errors import InvalidRequestError, NotFoundError, StoreError
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
from kernel.tenancy import physical_name
from retrieval.stores.common import match_any_conditions, native, need, scored_points

_CONFIG_FILE = "edge_config.json"  # written by qdrant-edge; marks a directory as a shard
_META_FILE = "synthrag_meta.json"
_SCROLL_PAGE = 1000


def _layout(dim: int, layout: VectorLayout) -> qe.EdgeConfig:
    # Cold: the originals stay in the memory-mapped file, read only for the candidates being rescored.
    memory = qe.Memory.Cold if layout.on_disk else None
    quantization = (
        qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Pinned)
        if layout.quantization == "int8"
        else None
    )
    return qe.EdgeConfig(
        vectors={DENSE_VECTOR: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine, memory=memory)},
        sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        quantization_config=quantization,
    )


def search_params(layout: VectorLayout) -> qe.SearchParams | None:
    """Dense search parameters: rescore quantized candidates with the originals (None without quantization)."""
    if layout.quantization == "none":
        return None
    return qe.SearchParams(quantization=qe.QuantizationSearchParams(rescore=True, oversampling=layout.oversampling))


def _stored_dim(shard_dir: Path) -> int | None:
    # EdgeShard exposes no config getter; its own config file is the only record of the dimension.
    try:
        config = json.loads((shard_dir / _CONFIG_FILE).read_text(encoding="utf-8"))
        return int(config["vectors"][DENSE_VECTOR]["size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _stored_spaces(shard_dir: Path) -> set[str]:
    """Names of the dense vectors recorded in the shard's config file."""
    try:
        config = json.loads((shard_dir / _CONFIG_FILE).read_text(encoding="utf-8"))
        return set(config["vectors"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _filter(
    filters: SearchFilters | None, *, document_id: str | None = None, kinds: Sequence[PointKind] | None = None
) -> qe.Filter | None:
    must: list[qe.ConditionType] = []
    if document_id is not None:
        must.append(qe.FieldCondition(DOCUMENT_ID, match=qe.MatchValue(document_id)))
    if kinds is not None:
        must.append(qe.FieldCondition(KIND, match=qe.MatchAny([str(kind) for kind in kinds])))
    for key, values in match_any_conditions(filters):
        must.append(qe.FieldCondition(key, match=qe.MatchAny(values)))
    return qe.Filter(must=must) if must else None


def _sparse(vector: SparseVec) -> qe.SparseVector:
    return qe.SparseVector(indices=vector.indices, values=vector.values)


def query_request(query: StoreQuery, params: qe.SearchParams | None = None) -> qe.QueryRequest:
    """The qdrant-edge request :meth:`EdgeStore.query` sends for ``query`` (public for raw-engine benchmarks);
    ``params`` go with the dense search (see :func:`search_params`)."""
    native(query)
    flt = _filter(query.filters)
    common: dict[str, Any] = {"limit": query.limit, "filter": flt, "with_payload": True}
    if query.with_vectors:
        common["with_vector"] = [query.dense_space]
    dense = sparse = None
    vector: list[float] = []
    if query.mode is not SearchMode.BM25:
        vector = need(query.dense, "dense", query)
        dense = qe.Query.Nearest(vector, using=query.dense_space)
    if query.mode is not SearchMode.DENSE:
        sparse = qe.Query.Nearest(_sparse(need(query.sparse, "sparse", query)), using=SPARSE_VECTOR)
    if dense is None or sparse is None:  # dense or bm25: a single nearest search
        return qe.QueryRequest(query=dense or sparse, params=params if dense is not None else None, **common)
    arms = [
        qe.Prefetch(query.prefetch_limit, dense, filter=flt, params=params),
        qe.Prefetch(query.prefetch_limit, sparse, filter=flt),
    ]
    # The stub leaves the nested class Fusion.Rrf out of the query types; the engine accepts it.
    rrf: Any = qe.Fusion.Rrf(k=query.rrf_k)
    if query.mode is SearchMode.HYBRID:
        return qe.QueryRequest(query=rrf, prefetches=arms, **common)
    # hybrid-mmr: MMR re-ranks the RRF-fused candidates of both arms (a nested prefetch).
    fused = qe.Prefetch(query.mmr_candidates, rrf, prefetches=arms, filter=flt)
    lambda_ = 1.0 - query.mmr_diversity  # qdrant-edge takes MMR's lambda, the server its diversity
    mmr = qe.Mmr(vector, lambda_, query.mmr_candidates, using=query.dense_space)
    return qe.QueryRequest(query=mmr, prefetches=[fused], **common)


class EdgeStore:
    """Embedded Qdrant collections under ``root / <collection>``, metadata in a JSON file beside each.

    A shard directory can be opened by one process only (its WAL is locked), so run one service or
    worker process per data directory. Opened shards stay open until :meth:`close`.
    """

    def __init__(self, root: Path, *, layout: VectorLayout | None = None) -> None:
        """Args:
        root: directory holding one shard directory per collection.
        layout: how new collections keep their dense vectors (default: float32 in RAM).
        """
        self._root = root
        self._layout = layout or VectorLayout()
        self._params = search_params(self._layout)
        self._shards: dict[str, qe.EdgeShard] = {}
        # One writer at a time (writes, opening and closing shards); searches run concurrently,
        # which the engine supports.
        self._lock = threading.RLock()

    def _dir(self, name: str) -> Path:
        # Names become directory names: refuse anything that could leave the root.
        return self._root / physical_name(name)

    def _open(self, name: str) -> qe.EdgeShard | None:
        shard = self._shards.get(name)
        if shard is not None:
            return shard
        with self._lock:
            shard = self._shards.get(name)
            if shard is None and (self._dir(name) / _CONFIG_FILE).is_file():
                try:
                    shard = qe.EdgeShard.load(str(self._dir(name)))
                except Exception as e:
                    raise StoreError(f"cannot open collection '{name}': {e}") from e
                self._shards[name] = shard
            return shard

    def _require(self, name: str) -> qe.EdgeShard:
        shard = self._open(name)
        if shard is None:
            raise NotFoundError(f"collection '{name}' does not exist")
        return shard

    def shard(self, name: str) -> qe.EdgeShard:
        """The open qdrant-edge shard of a collection, for benchmarks that time the engine itself.

        Raises:
            NotFoundError: The collection does not exist.
        """
        return self._require(name)

    def ensure_collection(self, name: str, *, dim: int) -> None:
        """Create the collection (and payload indexes) if missing; refuse a different dimension."""
        with self._lock:
            stored = _stored_dim(self._dir(name))
            if stored is not None and stored != dim:
                raise InvalidRequestError(
                    f"collection '{name}' holds {stored}-d vectors, the embedder makes {dim}-d ones; "
                    "use the model it was built with or a new collection"
                )
            shard = self._open(name)
            try:
                if shard is None:
                    shard = qe.EdgeShard.create(str(self._dir(name)), _layout(dim, self._layout))
                    self._shards[name] = shard
                existing = shard.info().payload_schema
                for field in KEYWORD_FIELDS:
                    if field not in existing:
                        shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
                shard.flush()
            except Exception as e:
                raise StoreError(f"cannot create collection '{name}': {e}") from e

    def exists(self, name: str) -> bool:
        """Whether the collection exists: its shard directory is there (nothing is opened).

        A name no collection can have does not exist (False), as ``list_collections`` never lists it.
        An open shard exists without a look at the disk (every request checks its collection).
        """
        if name in self._shards:
            return True
        try:
            directory = self._dir(name)
        except InvalidRequestError:
            return False
        return (directory / _CONFIG_FILE).is_file()

    def list_collections(self) -> list[str]:
        """Names of existing collections."""
        if not self._root.is_dir():
            return []
        return sorted(p.name for p in self._root.iterdir() if (p / _CONFIG_FILE).is_file())

    def drop_collection(self, name: str) -> None:
        """Delete a collection and all its points (no-op when missing)."""
        with self._lock:
            shard = self._shards.pop(name, None)
            try:
                if shard is not None:
                    shard.close()
                if self._dir(name).exists():
                    shutil.rmtree(self._dir(name))
            except Exception as e:
                raise StoreError(f"cannot drop collection '{name}': {e}") from e

    def _write(self, name: str, operation: qe.UpdateOperation) -> None:
        shard = self._require(name)
        with self._lock:
            try:
                shard.update(operation)
                # Flushed on every write so an acknowledged ingest survives a crash.
                shard.flush()
            except Exception as e:
                raise StoreError(f"write to collection '{name}' failed: {e}") from e

    def upsert(self, collection: str, points: Sequence[StoredPoint]) -> None:
        """Insert or replace points by id."""
        if not points:
            return
        edge_points = [
            qe.Point(p.id, {DENSE_VECTOR: p.dense, SPARSE_VECTOR: _sparse(p.sparse), **p.extra_dense}, p.payload)
            for p in points
        ]
        self._write(collection, qe.UpdateOperation.upsert_points(edge_points))

    def query(self, collection: str, query: StoreQuery) -> list[ScoredPoint]:
        """Run a search; results best first (for hybrid-mmr: in MMR order, scored by similarity)."""
        shard = self._require(collection)
        request = query_request(query, self._params)
        try:
            found = shard.query(request)
        except Exception as e:
            raise StoreError(f"search in collection '{collection}' failed: {e}") from e
        return scored_points(found, with_vectors=query.with_vectors, space=query.dense_space)

    def set_payload(
        self, collection: str, point_ids: Sequence[str], values: dict[str, Any], *, key: str | None = None
    ) -> None:
        """Merge ``values`` into the payload of points (into the nested object ``key`` if given)."""
        if point_ids:
            self._write(collection, qe.UpdateOperation.set_payload(list(point_ids), values, key))

    def delete(self, collection: str, point_ids: Sequence[str]) -> None:
        """Delete points by id (missing ids and collections are ignored)."""
        if point_ids and self._open(collection) is not None:
            self._write(collection, qe.UpdateOperation.delete_points(list(point_ids)))

    def delete_document(self, collection: str, document_id: str) -> int:
        """Delete every point of a document; returns how many were removed."""
        with self._lock:  # count and delete as one step, so the count is what was removed
            flt = _filter(None, document_id=document_id)
            removed = self._count(collection, flt)
            if removed and flt is not None:
                self._write(collection, qe.UpdateOperation.delete_points_by_filter(flt))
            return removed

    def document_point_ids(
        self, collection: str, document_id: str, *, kinds: Sequence[PointKind] | None = None
    ) -> set[str]:
        """Ids of a document's points, of the given kinds or all (empty when the collection is missing)."""
        shard = self._open(collection)
        ids: set[str] = set()
        offset: Any = None
        while shard is not None:
            request = qe.ScrollRequest(
                offset=offset, limit=_SCROLL_PAGE, filter=_filter(None, document_id=document_id, kinds=kinds)
            )
            try:
                records, offset = shard.scroll(request)
            except Exception as e:
                raise StoreError(f"scroll in collection '{collection}' failed: {e}") from e
            ids.update(str(r.id) for r in records)
            if offset is None:
                break
        return ids

    def documents_point_kinds(self, collection: str, document_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """For each of these documents that has points, ``{point id: kind}``: one paged scroll for all of them
        (empty when the collection is missing)."""
        shard = self._open(collection)
        found: dict[str, dict[str, str]] = {}
        if shard is None or not document_ids:
            return found
        flt = qe.Filter(must=[qe.FieldCondition(DOCUMENT_ID, match=qe.MatchAny(list(document_ids)))])
        offset: Any = None
        while True:
            request = qe.ScrollRequest(offset=offset, limit=_SCROLL_PAGE, filter=flt, with_payload=[DOCUMENT_ID, KIND])
            try:
                records, offset = shard.scroll(request)
            except Exception as e:
                raise StoreError(f"scroll in collection '{collection}' failed: {e}") from e
            for record in records:
                payload = record.payload or {}
                found.setdefault(str(payload.get(DOCUMENT_ID)), {})[str(record.id)] = str(payload.get(KIND))
            if offset is None:
                return found

    def add_dense_space(self, collection: str, space: str, *, dim: int) -> None:
        """Add an empty named dense vector (cosine) to the collection; no-op when it is there."""
        self._require(collection)
        if space not in _stored_spaces(self._dir(collection)):
            self._write(collection, qe.UpdateOperation.create_dense_vector(space, dim, qe.Distance.Cosine))

    def drop_dense_space(self, collection: str, space: str) -> None:
        """Remove a named dense vector and all its vectors (no-op when missing; never the base one)."""
        if space == DENSE_VECTOR:
            raise InvalidRequestError("the base dense vectors cannot be dropped")
        if self._open(collection) is not None and space in _stored_spaces(self._dir(collection)):
            self._write(collection, qe.UpdateOperation.delete_vector_name(space))

    def dense_spaces(self, collection: str) -> list[str]:
        """Names of the collection's dense vectors, the base one first."""
        self._require(collection)
        return sorted(_stored_spaces(self._dir(collection)), key=lambda name: (name != DENSE_VECTOR, name))

    def set_dense(self, collection: str, space: str, vectors: dict[str, list[float]]) -> None:
        """Write the ``space`` vectors of existing points (ids missing from the collection are skipped)."""
        if vectors:
            batch = [qe.PointVectors(pid, {space: vector}) for pid, vector in vectors.items()]
            self._write(collection, qe.UpdateOperation.update_vectors(batch))

    def scan(
        self, collection: str, *, offset: str | None, limit: int, missing: str | None = None
    ) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        """A page of (id, payload) in id order from ``offset``, and the next offset (None at the end).

        With ``missing``, only points that have no vector in that dense space.
        """
        shard = self._require(collection)
        flt = qe.Filter(must_not=[qe.HasVectorCondition(missing)]) if missing is not None else None
        request = qe.ScrollRequest(offset=offset, limit=limit, filter=flt, with_payload=True)
        try:
            records, following = shard.scroll(request)
        except Exception as e:
            raise StoreError(f"scroll in collection '{collection}' failed: {e}") from e
        return [(str(r.id), dict(r.payload or {})) for r in records], (
            str(following) if following is not None else None
        )

    def get_metadata(self, collection: str) -> dict[str, Any]:
        """Collection-level metadata ({} when none was set or the collection is missing)."""
        path = self._dir(collection) / _META_FILE
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise StoreError(f"cannot read metadata of collection '{collection}': {e}") from e
        return data

    def set_metadata(self, collection: str, metadata: dict[str, Any]) -> None:
        """Replace the collection-level metadata (atomically: a reader sees old or new)."""
        self._require(collection)
        path = self._dir(collection) / _META_FILE
        tmp = path.with_suffix(".tmp")
        with self._lock:
            try:
                tmp.write_text(json.dumps(metadata, sort_keys=True), encoding="utf-8")
                os.replace(tmp, path)
            except (OSError, TypeError, ValueError) as e:
                raise StoreError(f"cannot write metadata of collection '{collection}': {e}") from e

    def count(self, collection: str) -> int:
        """Number of points in a collection (0 when missing)."""
        return self._count(collection, None)

    def _count(self, collection: str, flt: qe.Filter | None) -> int:
        shard = self._open(collection)
        if shard is None:
            return 0
        try:
            return shard.count(qe.CountRequest(exact=True, filter=flt))
        except Exception as e:
            raise StoreError(f"count in collection '{collection}' failed: {e}") from e

    def optimize(self, collection: str) -> None:
        """Build indexes and merge segments after a bulk load (blocking; run off the request path)."""
        shard = self._open(collection)
        if shard is None:
            return
        with self._lock:
            try:
                shard.optimize()
                shard.flush()
            except Exception as e:
                raise StoreError(f"optimizing collection '{collection}' failed: {e}") from e

    def close(self) -> None:
        """Flush and close every opened shard; the store reopens them on next use."""
        with self._lock:
            shards, self._shards = self._shards, {}
        errors = []
        for name, shard in shards.items():
            try:
                shard.flush()
                shard.close()
            except Exception as e:
                errors.append(f"{name}: {e}")
        if errors:
            raise StoreError("closing collections failed: " + "; ".join(errors))
