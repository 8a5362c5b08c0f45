"""``POST /v1/search``: hybrid retrieval over a collection."""

from __future__ import annotations

import time
from functools import partial

from fastapi import APIRouter, Request, Response

from app.auth import ScopeDep, TenantScope
from app.deps import SearcherDep
from app.schemas import SearchRequest, SearchResponse
from app.search_runner import SearchRunner
from retrieval.search import Searcher
from retrieval.spaces import QueryVector, WouldBlock

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
async def search(request: Request, body: SearchRequest, searcher: SearcherDep, scope: ScopeDep) -> Response:
    """Search a collection.

    The query is embedded through the model's micro-batcher from the event loop: a waiting request holds
    a future, not a thread, and the queries of concurrent requests share one model pass. The store search
    then runs with that vector on one of a few worker threads, or on the loop when it is the only search
    in flight (:mod:`app.search_runner`). Which embedding a search needs is decided on the event loop from
    what is cached in memory; when that needs a store read or a model load (the first search after an
    adaptation switch loads the new model: seconds), on a worker thread too.
    """
    runner: SearchRunner = request.app.state.search_runner
    with runner.entered():
        return await _search(runner, body, searcher, scope)


async def _search(runner: SearchRunner, body: SearchRequest, searcher: Searcher, scope: TenantScope) -> Response:
    collection = scope.collection(body.collection)
    started = time.perf_counter()
    plan = partial(
        searcher.dense_query,
        body.query,
        collection=collection,
        mode=body.mode,
        filters=body.filters,
        synthetic=body.synthetic,
        diversity=body.diversity,
    )
    warm = True
    try:
        needed = plan(cached_only=True)
    except WouldBlock:
        warm = False
        needed = await runner.in_thread(plan)
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
    result = await runner.store_step(run, warm=warm)
    result.timings.embed_ms += embed_ms
    response = SearchResponse(
        collection=body.collection or scope.default,
        mode=result.mode,
        hits=result.hits,
        timings=result.timings,
        interpretation=result.interpretation,
    )
    # Serialized here: given the model, FastAPI would validate it against response_model again first.
    return Response(response.model_dump_json(), media_type="application/json")
