"""HNSW recall@10 against exact (brute-force) search on the same shard, and what hnsw_ef costs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import qdrant_edge as qe

from app.components import Components
from bench.latency import p50_p95
from kernel.payload import DENSE_VECTOR
from retrieval.stores.edge import EdgeStore

EF_VALUES = (None, 64, 128, 256)


def recall_at_k(components: Components, collection: str, queries: Sequence[str], k: int = 10) -> dict[str, Any]:
    """Dense top-k ids with HNSW (default ef and a few explicit ones) vs exact search; recall and latency."""
    store = components.search.store
    if not isinstance(store, EdgeStore):
        raise RuntimeError("recall is measured on the embedded qdrant-edge store")
    shard = store.shard(collection)
    vectors = components.search.embedder.embed(list(queries))

    def top(vector: list[float], params: qe.SearchParams | None) -> tuple[list[str], float]:
        request = qe.QueryRequest(
            query=qe.Query.Nearest(vector, using=DENSE_VECTOR), limit=k, with_payload=False, params=params
        )
        started = time.perf_counter()
        found = shard.query(request)
        return [str(p.id) for p in found], (time.perf_counter() - started) * 1000

    exact_ids: list[list[str]] = []
    exact_ms: list[float] = []
    for vector in vectors:
        ids, ms = top(vector, qe.SearchParams(exact=True))
        exact_ids.append(ids)
        exact_ms.append(ms)
    rows: dict[str, Any] = {"exact": {"recall": 1.0, "ms": p50_p95(exact_ms)}}
    for ef in EF_VALUES:
        params = None if ef is None else qe.SearchParams(hnsw_ef=ef)
        hits, ms_all = 0, []
        for vector, truth in zip(vectors, exact_ids, strict=True):
            ids, ms = top(vector, params)
            hits += len(set(ids) & set(truth))
            ms_all.append(ms)
        total = sum(len(t) for t in exact_ids)
        rows["default" if ef is None else f"ef={ef}"] = {"recall": round(hits / total, 4), "ms": p50_p95(ms_all)}
    return {"k": k, "queries": len(queries), "points": store.count(collection), "rows": rows}
