"""Operations routes: ``GET /readyz`` (can this process serve?) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

import logging
from typing import Literal, cast

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from app.auth import authorize_scrape
from app.components import Components
from app.deps import SettingsDep
from app.observability import Metrics

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


class Check(BaseModel):
    """The outcome of one readiness check."""

    status: Literal["ok", "fail", "skipped"]
    message: str = ""


class Readiness(BaseModel):
    """``ready`` when every check passed; otherwise the failing checks say why."""

    status: Literal["ready", "not ready"]
    checks: dict[str, Check] = Field(default_factory=dict)


def _check_store(components: Components) -> Check:
    try:
        names = components.search.store.list_collections()
    except Exception as exc:
        return Check(status="fail", message=f"store does not answer: {exc}")
    return Check(status="ok", message=f"{len(names)} collections")


def _check_embedder(components: Components) -> Check:
    embedder = components.search.embedder
    try:
        vectors = embedder.embed(["readiness probe"])
    except Exception as exc:
        return Check(status="fail", message=f"embedder failed: {exc}")
    if len(vectors) != 1 or len(vectors[0]) != embedder.dim:
        return Check(status="fail", message="embedder returned an unexpected vector shape")
    return Check(status="ok", message=embedder.model_id)


def _check_chat(components: Components) -> Check:
    if components.answers is None:
        return Check(status="skipped", message="this process serves no chat model")
    return Check(status="ok", message=components.answers.model_id)


def readiness(components: Components | None) -> Readiness:
    """Run every check against the components (None: the lifespan has not built them yet)."""
    if components is None:
        return Readiness(status="not ready", checks={"services": Check(status="fail", message="still starting")})
    checks = {
        "store": _check_store(components),
        "embedder": _check_embedder(components),
        "chat": _check_chat(components),
    }
    ready = all(c.status != "fail" for c in checks.values())
    return Readiness(status="ready" if ready else "not ready", checks=checks)


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}})
def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the store answers, the embedder embeds, the chat model (if any) is loaded.

    A plain ``def``: embedding is CPU work, so it runs in the thread pool, off the event loop.
    """
    components = cast(Components | None, getattr(request.app.state, "components", None))
    result = readiness(components)
    if result.status != "ready":
        failing = {k: c.message for k, c in result.checks.items() if c.status == "fail"}
        log.warning("not ready: %s", failing)
    return JSONResponse(result.model_dump(), status_code=200 if result.status == "ready" else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Prometheus text exposition; a plain ``def`` because gauge callbacks may query the job queue.

    With API keys set it is the operator's: see :func:`app.auth.authorize_scrape`.
    """
    client = request.client.host if request.client else ""
    authorize_scrape(request.headers.get("authorization", ""), client, settings)
    registry = cast(Metrics, request.app.state.metrics)
    return Response(registry.exposition(), media_type=CONTENT_TYPE_LATEST)
