"""OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models``: collections appear as models."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from answer.service import AnswerStream
from app.auth import ScopeDep, TenantScope
from app.deps import AnswersDep
from app.errors import error_body
from app.openai_schemas import ChatCompletionRequest, extras
from app.sse import SSE_HEADERS, sse
from kernel.errors import InvalidRequestError, NotFoundError, SynthragError
from kernel.models import ChatMessage

router = APIRouter(prefix="/v1", tags=["openai"])

DEFAULT_MODEL = "synthrag"
#: Put between a streamed generation that failed the grounding check and the source quotes that follow it.
FALLBACK_NOTE = "\n\n(The sources do not support the text above. What they say:) "


def _collection(scope: TenantScope, model: str) -> str:
    """The store collection behind a model name, within the tenant's collections."""
    if model in (DEFAULT_MODEL, ""):
        return scope.collection(None)
    try:
        return scope.collection(model)
    except (NotFoundError, InvalidRequestError) as exc:
        raise NotFoundError(f"model '{model}' does not exist; GET /v1/models lists the collections") from exc


@router.get("/models")
def list_models(scope: ScopeDep) -> dict[str, Any]:
    """Every collection of the tenant is a model; 'synthrag' is the default collection."""
    names = [DEFAULT_MODEL, *scope.names()]
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "synthrag"} for n in names]
    return {"object": "list", "data": data}


@router.post("/chat/completions")
def chat_completions(body: ChatCompletionRequest, svc: AnswersDep, scope: ScopeDep) -> Any:
    """Answer the last user message from the collection named by ``model``, with sources attached."""
    collection = _collection(scope, body.model)
    question = body.messages[-1].text()
    history = [
        ChatMessage(role=m.role, content=m.text()) for m in body.messages[:-1] if m.role in ("user", "assistant")
    ]
    plan = svc.plan(question, collection=collection, history=history)
    params = svc.params(max_tokens=body.max_completion_tokens or body.max_tokens, temperature=body.temperature)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not body.stream:
        answer = svc.generate(plan, params)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": answer.prompt_tokens,
                "completion_tokens": answer.completion_tokens,
                "total_tokens": answer.prompt_tokens + answer.completion_tokens,
            },
            **extras(answer),
        }
    stream = svc.stream(plan, params)  # 429 before any byte when the queue is full
    head = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": body.model}
    return StreamingResponse(_chunks(head, stream), media_type="text/event-stream", headers=SSE_HEADERS)


def _chunks(head: dict[str, Any], stream: AnswerStream) -> Iterator[str]:
    """Content deltas as the text is checked, then the sources in the last chunk.

    Sent text cannot be taken back: when the combined mode falls back to quotes of the sources, they
    follow the streamed text as one more delta, after a line that says so.
    """

    def chunk(delta: dict[str, str], finish_reason: str | None = None, **more: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return sse({**head, "choices": [choice], **more})

    yield chunk({"role": "assistant", "content": ""})
    streamed: list[str] = []
    try:
        for piece in stream:
            streamed.append(piece)
            yield chunk({"content": piece})
    except SynthragError as exc:
        yield sse(error_body(exc.message, kind="server_error", code=type(exc).__name__))
        return
    finally:
        stream.close()
    answer = stream.result()
    # The quotes were not what streamed: combined mode fell back to them after the generation.
    sent = "".join(streamed).strip()
    if answer.mode == "extractive" and sent != answer.answer.strip():
        yield chunk({"content": f"{FALLBACK_NOTE}{answer.answer}" if sent else answer.answer})
    yield chunk({}, "stop", **extras(answer))
    yield sse("[DONE]")
