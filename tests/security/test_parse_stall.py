"""One hostile Markdown upload no longer freezes the service (hardening issue 11, finding 3), against a live server.

Before the fix the emphasis and table patterns backtracked quadratically while holding the GIL: /healthz
answered only after the whole parse (46 s for 120 KB). Now the parse is linear and pure Python, so other
requests are served while it runs.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import bearer, serve
from tests.conftest import make_components

pytestmark = pytest.mark.slow

KEY_A = "key-alpha-0123456789"
KEY_B = "key-beta-9876543210"
HOSTILE = ("# Notes\n\n" + "**a " * 60_000 + "\n").encode()  # 240 KB, one line of unclosed emphasis


def test_healthz_answers_while_a_hostile_markdown_upload_is_parsed(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", api_keys={KEY_A: "alpha", KEY_B: "beta"}, workers=0)
    components = make_components(settings, embedder)
    try:
        with serve(components) as client:
            base = str(client.base_url).rstrip("/")
            answer: dict[str, httpx.Response] = {}

            def hostile_upload() -> None:
                with httpx.Client(base_url=base, timeout=300) as uploader:
                    answer["upload"] = uploader.post(
                        "/v1/documents", files={"files": ("hostile.md", HOSTILE)}, headers=bearer(KEY_A)
                    )

            thread = threading.Thread(target=hostile_upload)
            thread.start()
            time.sleep(0.5)  # the upload is being parsed by now
            latencies = []
            with httpx.Client(base_url=base, timeout=60) as other:
                for _ in range(3):
                    started = time.monotonic()
                    assert other.get("/healthz").status_code == 200
                    assert other.get("/v1/documents", headers=bearer(KEY_B)).status_code == 200
                    latencies.append(time.monotonic() - started)
            thread.join(timeout=300)
            assert not thread.is_alive()
    finally:
        components.close()
    # Generous for a loaded 2-core machine; the old parse blocked these for the whole upload (minutes).
    assert max(latencies) < 5.0, latencies
    assert answer["upload"].status_code in (202, 422), answer["upload"].text
