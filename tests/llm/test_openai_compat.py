"""OpenAIChatModel through the official SDK against a real loopback server that runs the bundled model."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from kernel.errors import ModelError
from kernel.models import ChatMessage, GenerationParams
from kernel.settings import ChatModelSettings
from llm.factory import create_chat_model
from llm.json_repair import parse_json_object
from llm.llama_cpp import LlamaCppChatModel
from llm.openai_compat import OpenAIChatModel
from tests.llm.openai_stub_server import STUB_MODEL_NAME, OpenAIStubServer, serve_openai_compatible

pytestmark = pytest.mark.slow

QUESTION = [ChatMessage(role="user", content="Name a city and its country.")]
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "minLength": 1, "maxLength": 40}},
    "required": ["city"],
}


@pytest.fixture(scope="module")
def stub(llama_model: LlamaCppChatModel) -> Iterator[OpenAIStubServer]:
    with OpenAIStubServer(llama_model) as server:
        yield server


@pytest.fixture
def server(stub: OpenAIStubServer) -> OpenAIStubServer:
    """The shared stub, with a clean request log and no injected failure."""
    stub.requests.clear()
    stub.fail_status = None
    return stub


def _client(base_url: str, *, max_retries: int = 2, timeout_s: float = 30) -> OpenAIChatModel:
    return OpenAIChatModel(
        base_url, api_key=None, model_name=STUB_MODEL_NAME, timeout_s=timeout_s, max_retries=max_retries
    )


def test_complete_over_http(server: OpenAIStubServer) -> None:
    model = _client(server.base_url)
    result = model.complete(QUESTION, params=GenerationParams(max_tokens=24, stop=["\n\n"]))
    assert result.text.strip()
    assert result.prompt_tokens > 0
    assert result.completion_tokens > 0
    assert model.model_id == f"openai:{server.base_url}:{STUB_MODEL_NAME}"
    (sent,) = server.requests
    assert sent["model"] == STUB_MODEL_NAME
    assert sent["messages"] == [{"role": "user", "content": QUESTION[0].content}]
    assert sent["max_tokens"] == 24
    assert sent["stop"] == ["\n\n"]
    assert "response_format" not in sent


def test_length_finish_reason_travels(server: OpenAIStubServer) -> None:
    result = _client(server.base_url).complete(QUESTION, params=GenerationParams(max_tokens=2))
    assert result.finish_reason == "length"


def test_stream_over_sse(server: OpenAIStubServer) -> None:
    pieces = list(_client(server.base_url).stream(QUESTION, params=GenerationParams(max_tokens=16)))
    assert len(pieces) > 1
    assert "".join(pieces).strip()
    assert server.requests[0]["stream"] is True


def test_schema_request_carries_json_schema(server: OpenAIStubServer) -> None:
    result = _client(server.base_url).complete(QUESTION, params=GenerationParams(max_tokens=48), schema=SCHEMA)
    assert server.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA},
    }
    assert set(parse_json_object(result.text)) == {"city"}


def test_server_error_is_retried_then_a_model_error(server: OpenAIStubServer) -> None:
    server.fail_status = 500
    with pytest.raises(ModelError, match=r"127\.0\.0\.1.*HTTP 500"):
        _client(server.base_url).complete(QUESTION, params=GenerationParams(max_tokens=8))
    # max_retries=2: the SDK's backoff retried twice before giving up.
    assert len(server.requests) == 3


def test_stream_server_error_is_a_model_error(server: OpenAIStubServer) -> None:
    server.fail_status = 503
    with pytest.raises(ModelError, match="HTTP 503"):
        list(_client(server.base_url, max_retries=0).stream(QUESTION, params=GenerationParams(max_tokens=8)))


def test_closed_port_is_a_model_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ModelError, match=rf"cannot reach .*{port}"):
        _client(base_url, max_retries=0).complete(QUESTION, params=GenerationParams(max_tokens=8))


def test_timeout_is_a_model_error(server: OpenAIStubServer) -> None:
    # 64 tokens take the bundled model ~0.7 s; the client gives up long before.
    model = _client(server.base_url, max_retries=0, timeout_s=0.05)
    with pytest.raises(ModelError, match=r"timed out after 0\.05 s"):
        model.complete(QUESTION, params=GenerationParams(max_tokens=64))


def test_context_manager_serves_models_endpoint(llama_model: LlamaCppChatModel) -> None:
    with serve_openai_compatible(llama_model) as base_url:
        listing = httpx.get(f"{base_url}/models", timeout=10).json()
        assert listing["data"][0]["id"] == STUB_MODEL_NAME
        model = create_chat_model(ChatModelSettings(backend="openai", base_url=base_url, model_name="x"))
        assert model.complete(QUESTION, params=GenerationParams(max_tokens=8)).text.strip()
    with pytest.raises(ModelError):
        OpenAIChatModel(base_url, api_key=None, model_name="x", timeout_s=5, max_retries=0).complete(
            QUESTION, params=GenerationParams(max_tokens=8)
        )
