"""``POST /v1/search``: hybrid retrieval over a collection."""

from __future__ import annotations

import time
from functools import partial

import anyio.to_thread
from fastapi import APIRouter, Request

from app.auth import ScopeDep
from app.deps import SearcherDep
from app.schemas import SearchRequest, SearchResponse
from retrieval.spaces import QueryVector

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
async def search(request: Request, body: SearchRequest, searcher: SearcherDep, scope: ScopeDep) -> SearchResponse:
    """Search a collection.

    The query is embedded through the model's micro-batcher from the event loop: a waiting request holds
    a future, not a thread, and the queries of concurrent requests share one model pass. The store search
    then runs with that vector on one of a few worker threads (``SYNTHRAG_SEARCH_THREADS``): it holds the
    GIL, so more threads only queue for it (measured; README "Throughput"). Deciding the embedding (which
    may load an adapted model) runs on those threads too.
    """
    collection = scope.collection(body.collection)
    limiter = request.app.state.search_limiter
    started = time.perf_counter()
    # In a thread too: the first search after an adaptation switch loads the new model (seconds), and
    # the event loop must not stall on it.
    plan = partial(
        searcher.dense_query,
        body.query,
        collection=collection,
        mode=body.mode,
        filters=body.filters,
        synthetic=body.synthetic,
        diversity=body.diversity,
    )
    needed = await anyio.to_thread.run_sync(plan, limiter=limiter)
    vector = None
    if needed is not None:
        vector = QueryVector(needed.space, (await needed.embedder.embed_async([needed.text]))[0])
    embed_ms = (time.perf_counter() - started) * 1000
    run = partial(
        searcher.search,
        body.query,
        collection=collection,
        k=body.k,
        mode=body.mode,
        filters=body.filters,
        mmr_diversity=body.mmr_diversity,
        query_vector=vector,
        synthetic=body.synthetic,
        diversity=body.diversity,
    )
    result = await anyio.to_thread.run_sync(run, limiter=limiter)
    result.timings.embed_ms += embed_ms
    return SearchResponse(
        collection=body.collection or scope.default,
        mode=result.mode,
        hits=result.hits,
        timings=result.timings,
        interpretation=result.interpretation,
    )
