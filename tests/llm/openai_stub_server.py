"""A real OpenAI-compatible server on loopback (FastAPI + uvicorn thread) answering with a real ChatModel."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from kernel.models import ChatMessage, GenerationParams
from kernel.ports import ChatModel

STUB_MODEL_NAME = "stub-model"


class OpenAIStubServer:
    """Serves ``/v1/chat/completions`` and ``/v1/models`` on 127.0.0.1 by delegating to ``model``.

    ``requests`` holds every chat request body received (in order); set ``fail_status`` to make
    chat requests answer that HTTP status instead (the SDK's retries then show in ``requests``).
    """

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.fail_status: int | None = None
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Port 0: the OS picks a free port, and holding the bound socket means nobody takes it.
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(self._app(), log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("stub OpenAI server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> OpenAIStubServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        def models() -> dict[str, Any]:
            entry = {"id": STUB_MODEL_NAME, "object": "model", "created": 0, "owned_by": "synthrag-tests"}
            return {"object": "list", "data": [entry]}

        # Sync handlers: FastAPI runs them in its thread pool, keeping llama.cpp off the event loop.
        @app.post("/v1/chat/completions")
        def chat(body: dict[str, Any]) -> Response:
            self.requests.append(body)
            if self.fail_status is not None:
                error = {"message": "stub failure", "type": "server_error", "code": None}
                return JSONResponse({"error": error}, status_code=self.fail_status)
            messages = [ChatMessage(role=m["role"], content=m["content"]) for m in body["messages"]]
            params = _params(body)
            if body.get("stream"):
                return StreamingResponse(self._sse(body, messages, params), media_type="text/event-stream")
            completion = self.model.complete(messages, params=params, schema=_schema(body))
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": completion.text},
                "finish_reason": completion.finish_reason,
            }
            usage = {
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "total_tokens": completion.prompt_tokens + completion.completion_tokens,
            }
            return JSONResponse(_envelope(body, "chat.completion", choices=[choice], usage=usage))

        @app.exception_handler(KeyError)
        async def bad_request(request: Request, exc: KeyError) -> JSONResponse:
            return JSONResponse({"error": {"message": f"missing field {exc}"}}, status_code=400)

        return app

    def _sse(self, body: dict[str, Any], messages: list[ChatMessage], params: GenerationParams) -> Iterator[str]:
        def event(delta: dict[str, str], finish_reason: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return f"data: {json.dumps(_envelope(body, 'chat.completion.chunk', choices=[choice]))}\n\n"

        yield event({"role": "assistant", "content": ""})
        for piece in self.model.stream(messages, params=params):
            yield event({"content": piece})
        yield event({}, "stop")
        yield "data: [DONE]\n\n"


@contextmanager
def serve_openai_compatible(model: ChatModel) -> Iterator[str]:
    """Run a stub server for ``model`` for the duration of the block; yields its base URL (``.../v1``)."""
    with OpenAIStubServer(model) as server:
        yield server.base_url


def _params(body: dict[str, Any]) -> GenerationParams:
    stop = body.get("stop") or []
    return GenerationParams(
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens") or 64,
        temperature=body.get("temperature", 0.2),
        top_p=body.get("top_p", 0.95),
        stop=[stop] if isinstance(stop, str) else stop,
    )


def _schema(body: dict[str, Any]) -> dict[str, Any] | None:
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema: dict[str, Any] = response_format["json_schema"]["schema"]
        return schema
    if response_format.get("type") == "json_object":
        return {"type": "object"}
    return None


def _envelope(body: dict[str, Any], kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": kind,
        "created": int(time.time()),
        "model": body.get("model", STUB_MODEL_NAME),
        **fields,
    }
