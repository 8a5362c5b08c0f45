"""``POST /v1/search``: hybrid retrieval over a collection."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth import TenantDep, scoped
from app.deps import ServicesDep
from app.schemas import SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, services: ServicesDep, tenant: TenantDep) -> SearchResponse:
    """Search a collection. A plain ``def``: FastAPI runs it in a worker thread, off the event loop."""
    collection = body.collection or services.settings.collection
    result = services.searcher.search(
        body.query,
        collection=scoped(services, tenant, body.collection),
        k=body.k,
        mode=body.mode,
        filters=body.filters,
        mmr_diversity=body.mmr_diversity,
        synthetic=body.synthetic,
    )
    return SearchResponse(collection=collection, mode=result.mode, hits=result.hits, timings=result.timings)
