"""Liveness route."""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter

from app.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up and serving."""
    return Health(version=version("synthrag"))
