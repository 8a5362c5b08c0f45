"""``POST /v1/answer``: a grounded, cited answer, whole or streamed as Server-Sent Events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from answer.service import AnswerPlan, finish
from app.auth import ScopeDep
from app.deps import AnswersDep
from app.errors import error_body, status_for
from app.schemas import AnswerRequest
from app.sse import SSE_HEADERS, sse
from kernel.errors import SynthragError
from kernel.models import Answer

router = APIRouter(prefix="/v1", tags=["answer"])


@router.post("/answer", response_model=Answer)
def answer(body: AnswerRequest, svc: AnswersDep, scope: ScopeDep) -> Any:
    """Answer from the collection's documents, citing them as [n]."""
    plan = svc.plan(
        body.question,
        collection=scope.collection(body.collection),
        k=body.k,
        mode=body.mode,
        filters=body.filters,
    )
    params = svc.params(max_tokens=body.max_tokens)
    if not body.stream:
        return svc.generate(plan, params)
    pieces = svc.stream(plan, params)  # a full queue raises 429 here, before any byte is sent
    return StreamingResponse(answer_events(plan, pieces), media_type="text/event-stream", headers=SSE_HEADERS)


def answer_events(plan: AnswerPlan, pieces: Iterator[str]) -> Iterator[str]:
    """``token`` events with text pieces, then ``final`` with the cleaned answer and citations."""
    text: list[str] = []
    try:
        for piece in pieces:
            text.append(piece)
            yield sse({"text": piece}, event="token")
    except SynthragError as exc:
        body = error_body(exc.message, kind="server_error", code=type(exc).__name__)
        yield sse({**body, "status": status_for(exc)}, event="error")
        return
    yield sse(finish(plan, "".join(text)).model_dump(mode="json"), event="final")
