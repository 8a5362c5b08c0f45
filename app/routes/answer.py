"""``POST /v1/answer``: a grounded, cited answer, whole or streamed as Server-Sent Events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from answer.service import AnswerStream
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
        return svc.generate(plan, params, mode=body.answer_mode)
    stream = svc.stream(plan, params, mode=body.answer_mode)  # a full queue raises 429 here, before any byte
    return StreamingResponse(answer_events(stream), media_type="text/event-stream", headers=SSE_HEADERS)


def answer_events(stream: AnswerStream) -> Iterator[str]:
    """``token`` events with checked text pieces, then ``final`` with the whole answer.

    The final answer is the one to show: in combined mode it may drop streamed sentences that no source
    supports, or replace the streamed text with quotes of the sources (``mode: extractive``).
    """
    try:
        for piece in stream:
            yield sse({"text": piece}, event="token")
    except SynthragError as exc:
        body = error_body(exc.message, kind="server_error", code=type(exc).__name__)
        yield sse({**body, "status": status_for(exc)}, event="error")
        return
    finally:
        stream.close()
    yield sse(stream.result().model_dump(mode="json"), event="final")
