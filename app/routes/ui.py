"""The browser page at ``/``: a static HTML client of the answer and search APIs."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["ui"])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The single-page UI; its script and style are served under ``/static``."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})
