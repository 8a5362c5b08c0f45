"""Search latency per mode (embed vs store split) and /v1/search over HTTP vs the raw components."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from app.components import Components
from bench.stats import percentile
from kernel.models import SearchMode, StoreQuery
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.stores.edge import EdgeStore, query_request

MODES = tuple(SearchMode)


def p50_p95(values: Sequence[float]) -> dict[str, float]:
    """Median and 95th percentile, rounded."""
    return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3)}


def searcher_latency(components: Components, collection: str, queries: Sequence[str], k: int = 10) -> dict[str, Any]:
    """Searcher.search per mode, interleaved query by query: embed / store / total ms p50 and p95."""
    for text in queries[:5]:  # warm-up: first calls pay lazy initialisation
        for mode in MODES:
            components.search.searcher.search(text, collection=collection, k=k, mode=mode)
    samples: dict[SearchMode, dict[str, list[float]]] = {m: {"embed": [], "store": [], "total": []} for m in MODES}
    for text in queries:
        for mode in MODES:
            started = time.perf_counter()
            result = components.search.searcher.search(text, collection=collection, k=k, mode=mode)
            samples[mode]["total"].append((time.perf_counter() - started) * 1000)
            samples[mode]["embed"].append(result.timings.embed_ms)
            samples[mode]["store"].append(result.timings.store_ms)
    return {m.value: {part: p50_p95(v) for part, v in parts.items()} for m, parts in samples.items()}


def store_only_latency(components: Components, collection: str, queries: Sequence[str], k: int = 10) -> dict[str, Any]:
    """Store time alone per mode (query vectors embedded beforehand), for before/after comparisons."""
    settings = components.settings
    vectors = components.search.embedder.embed(list(queries))
    sparse = [components.search.sparse.encode_query(q) for q in queries]
    out: dict[str, list[float]] = {m.value: [] for m in MODES}
    for dense, sp in zip(vectors, sparse, strict=True):
        for mode in MODES:
            query = StoreQuery(
                mode=mode,
                limit=k,
                dense=dense,
                sparse=sp,
                prefetch_limit=settings.prefetch_limit,
                rrf_k=settings.rrf_k,
                mmr_diversity=settings.mmr_diversity,
                mmr_candidates=settings.mmr_candidates,
            )
            started = time.perf_counter()
            components.search.store.query(collection, query)
            out[mode.value].append((time.perf_counter() - started) * 1000)
    return {mode: p50_p95(values) for mode, values in out.items()}


class RawPath:
    """The service's components called directly: sentence-transformers encode, BM25 query encoding,
    and one qdrant-edge shard query built exactly as the service builds it."""

    def __init__(self, components: Components, collection: str) -> None:
        store = components.search.store
        if not isinstance(store, EdgeStore):
            raise RuntimeError("the raw comparison needs the embedded qdrant-edge store")
        self._shard = store.shard(collection)
        if not isinstance(components.search.embedder, SentenceTransformerEmbedder):
            raise RuntimeError("the raw comparison needs the sentence-transformers embedder")
        self._model: Any = components.search.embedder.model
        self._sparse = components.search.sparse
        self._settings = components.settings

    def search(self, text: str, mode: SearchMode, k: int) -> int:
        """Embed and query; returns the number of hits."""
        s = self._settings
        dense: list[float] | None = None
        if mode is not SearchMode.BM25:
            vec: np.ndarray = self._model.encode([text], normalize_embeddings=True, convert_to_numpy=True)
            dense = vec[0].tolist()
        sparse = self._sparse.encode_query(text) if mode is not SearchMode.DENSE else None
        query = StoreQuery(
            mode=mode,
            limit=k,
            dense=dense,
            sparse=sparse,
            prefetch_limit=max(s.prefetch_limit, k),
            rrf_k=s.rrf_k,
            mmr_diversity=s.mmr_diversity,
            mmr_candidates=max(s.mmr_candidates, k),
        )
        return len(self._shard.query(query_request(query)))


def http_vs_raw(
    base_url: str, components: Components, collection: str, queries: Sequence[str], k: int = 10
) -> dict[str, Any]:
    """POST /v1/search round trips vs RawPath on the same queries, alternating which goes first."""
    raw = RawPath(components, collection)
    http: dict[str, list[float]] = {m.value: [] for m in MODES}
    direct: dict[str, list[float]] = {m.value: [] for m in MODES}
    with httpx.Client(base_url=base_url, timeout=60) as client:

        def via_http(text: str, mode: SearchMode) -> None:
            body = {"query": text, "k": k, "mode": mode.value, "collection": collection}
            response = client.post("/v1/search", json=body)
            response.raise_for_status()

        for text in queries[:5]:
            for mode in MODES:
                via_http(text, mode)
                raw.search(text, mode, k)
        for i, text in enumerate(queries):
            for mode in MODES:
                order = (0, 1) if i % 2 == 0 else (1, 0)
                for which in order:
                    started = time.perf_counter()
                    if which == 0:
                        via_http(text, mode)
                    else:
                        raw.search(text, mode, k)
                    ms = (time.perf_counter() - started) * 1000
                    (http if which == 0 else direct)[mode.value].append(ms)
    out: dict[str, Any] = {}
    for name, values in http.items():
        base = direct[name]
        ratios = [h / r for h, r in zip(values, base, strict=True)]
        out[name] = {
            "http": p50_p95(values),
            "raw": p50_p95(base),
            "ratio_p50": round(percentile(values, 50) / percentile(base, 50), 3),
            "ratio_paired_median": round(percentile(ratios, 50), 3),
            "extra_ms_paired_median": round(percentile([h - r for h, r in zip(values, base, strict=True)], 50), 3),
        }
    return out
