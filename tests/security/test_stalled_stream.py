"""A client that stops reading a stream blocks no one (hardening issue, finding 4), against a live server.

Before the fix the generation's queue place (and the llama lock) was held across every ``yield`` to the
client: once the socket buffers filled, a client that never read held them forever and every other
answer waited behind it. Now the generation runs to its end in its own thread whatever the client does.

The stalled stream's reply is scripted (a fake at the ChatModel port) because it must be longer than the
socket buffers, which no real short answer is; the adapter's own lock is tested with the real model in
tests/llm/test_llama_cpp.py.
"""

from __future__ import annotations

import json
import random
import socket
import string
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import bearer, serve, upload_and_wait
from tests.conftest import make_components
from tests.fakes import ScriptedChat, ScriptedChats
from tests.fixtures_docs import make_txt

pytestmark = pytest.mark.slow

KEY_A = "key-alpha-0123456789"
KEY_B = "key-beta-9876543210"
NOTE = "Beekeepers harvest honey in late summer once the frames are capped with wax."
SHORT = "Honey is harvested in late summer [1]."
#: Generous: the other tenant's answer waits at most for the stalled stream's whole generation.
ANSWER_TIMEOUT_S = 120.0


def _long_reply() -> str:
    """About 4.5 MB in 1,500 one-word sentences (no loop for the guard to cut): more than socket buffers hold."""
    rng = random.Random(11)
    return "".join("".join(rng.choices(string.ascii_lowercase, k=3000)) + ". " for _ in range(1500))


@pytest.fixture
def chat(scripted_chat: ScriptedChats) -> ScriptedChat:
    return scripted_chat([_long_reply(), SHORT, SHORT])


@pytest.fixture
def base_url(tmp_path: Path, embedder: SentenceTransformerEmbedder, chat: ScriptedChat) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path / "data", api_keys={KEY_A: "alpha", KEY_B: "beta"})
    components = make_components(settings, embedder).with_chat(chat)
    try:
        with serve(components) as client:
            yield str(client.base_url).rstrip("/")
    finally:
        components.close()


def _open_stalled_stream(base_url: str, key: str) -> socket.socket:
    """Send a streaming chat completion over a raw socket that will never read a byte of the reply."""
    url = urlsplit(base_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server fills it at once
    sock.connect((url.hostname or "127.0.0.1", url.port or 80))
    body = json.dumps(
        {"model": "synthrag", "stream": True, "messages": [{"role": "user", "content": "When is honey harvested?"}]}
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body)
    return sock


def _pending(client: httpx.Client) -> float:
    """The generation queue gauge of ``/metrics``: generations running or waiting."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("synthrag_generation_queue_pending "):
            return float(line.split()[1])
    raise AssertionError("/metrics has no synthrag_generation_queue_pending")


def test_a_client_that_stops_reading_blocks_no_one(base_url: str, chat: ScriptedChat) -> None:
    with httpx.Client(base_url=base_url, timeout=60, headers=bearer(KEY_A)) as a:
        upload_and_wait(a, [("note.txt", make_txt([NOTE]))])
    with httpx.Client(base_url=base_url, timeout=60, headers=bearer(KEY_B)) as b:
        upload_and_wait(b, [("note.txt", make_txt([NOTE]))])

    stalled = _open_stalled_stream(base_url, KEY_A)
    try:
        deadline = time.monotonic() + 60
        while not chat.calls:  # the stalled stream's generation has begun
            assert time.monotonic() < deadline, "the streaming request never reached the model"
            time.sleep(0.05)

        # Another tenant's whole answer (not streamed) gets the model and its queue place.
        with httpx.Client(base_url=base_url, timeout=ANSWER_TIMEOUT_S, headers=bearer(KEY_B)) as b:
            response = b.post("/v1/answer", json={"question": "When is honey harvested?"})
            assert response.status_code == 200, response.text
            assert "late summer" in response.json()["answer"]
            # The stalled stream holds no queue place: its generation ended although nobody read it.
            assert _pending(b) == 0
    finally:
        stalled.close()

    # The disconnected client left nothing behind: the service answers a stream in full.
    with httpx.Client(base_url=base_url, timeout=ANSWER_TIMEOUT_S, headers=bearer(KEY_A)) as a:
        body = {"question": "When is honey harvested?", "stream": True}
        with a.stream("POST", "/v1/answer", json=body) as response:
            assert response.status_code == 200
            events = [line for line in response.iter_lines() if line.startswith("event: ")]
        assert events[-1] == "event: final"
        assert _pending(a) == 0
