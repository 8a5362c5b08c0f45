"""Liveness route."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz(request: Request) -> Health:
    """The process is up and serving: answered on the event loop, so a busy thread pool cannot delay it."""
    return Health(version=request.app.version)
