"""``POST /v1/search``: hybrid retrieval over a collection."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth import ScopeDep
from app.deps import SearcherDep
from app.schemas import SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, searcher: SearcherDep, scope: ScopeDep) -> SearchResponse:
    """Search a collection. A plain ``def``: FastAPI runs it in a worker thread, off the event loop."""
    result = searcher.search(
        body.query,
        collection=scope.collection(body.collection),
        k=body.k,
        mode=body.mode,
        filters=body.filters,
        mmr_diversity=body.mmr_diversity,
        synthetic=body.synthetic,
        diversity=body.diversity,
    )
    collection = body.collection or scope.default
    return SearchResponse(
        collection=collection,
        mode=result.mode,
        hits=result.hits,
        timings=result.timings,
        interpretation=result.interpretation,
    )
