"""No cross-tenant oracle in synthesis (hardening issue, finding 7), against a live server with two tenants.

The generation cache is keyed by text: before the fix tenant B, uploading a passage tenant A had
ingested, saw ``chunks_cached`` (and zero tokens and seconds) in its synthesis report, so it learnt
what A holds. Now each tenant's cache is its own: B's report reads like a fresh ingest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.components import build_components
from kernel.models import ChatMessage, Completion, GenerationParams
from kernel.ports import ChatStream
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import bearer, serve, upload_and_wait
from tests.fixtures_docs import make_txt

pytestmark = pytest.mark.slow

KEY_A = "key-alpha-0123456789"
KEY_B = "key-beta-9876543210"
PASSAGE = "Honey bees keep their hive at about 35 degrees Celsius. Worker bees fan their wings to cool the brood."
CHUNK_NOTES = {
    "keywords": ["honey bees", "hive"],
    "summary": "Honey bees keep the hive at 35 degrees Celsius.",
    "questions": [{"question": "At what temperature do bees keep the hive?", "answer": "about 35 degrees Celsius"}],
}
DOCUMENT_NOTES = {"title": "Bees", "type": "notes", "summary": "Honey bees keep their hive warm.", "entities": []}


class ScriptedTeacher:
    """A ChatModel writing fixed, valid notes (chunk or document, by the schema asked for), counting its calls."""

    model_id = "scripted-teacher"

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def complete(
        self, messages: Sequence[ChatMessage], *, params: GenerationParams, schema: dict[str, Any] | None = None
    ) -> Completion:
        with self._lock:
            self.calls += 1
        wants_chunk = "questions" in (schema or {}).get("required", [])
        reply = CHUNK_NOTES if wants_chunk else {**DOCUMENT_NOTES, "dates": []}
        return Completion(text=json.dumps(reply), completion_tokens=11)

    def stream(self, messages: Sequence[ChatMessage], *, params: GenerationParams) -> ChatStream:
        raise AssertionError("synthesis does not stream")


@pytest.fixture
def teacher() -> ScriptedTeacher:
    return ScriptedTeacher()


@pytest.fixture
def base_url(tmp_path: Path, embedder: SentenceTransformerEmbedder, teacher: ScriptedTeacher) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path / "data",
        api_keys={KEY_A: "alpha", KEY_B: "beta"},
        synth={"enabled": True, "generate": "all"},
    )
    components = build_components(settings, embedder=embedder, teacher=teacher)
    try:
        with serve(components) as client:
            yield str(client.base_url).rstrip("/")
    finally:
        components.close()


def _counts(client: httpx.Client, name: str, **form: str) -> dict[str, Any]:
    [result] = upload_and_wait(client, [(name, make_txt([PASSAGE]))], **form)
    response = client.get(f"/v1/documents/{result['document_id']}/synthetic")
    assert response.status_code == 200, response.text
    counts: dict[str, Any] = response.json()["counts"]
    counts.pop("generation_seconds")  # a timing; the counters below are what a tenant reads
    return counts


def test_another_tenants_cache_hits_do_not_show_in_a_report(base_url: str, teacher: ScriptedTeacher) -> None:
    with httpx.Client(base_url=base_url, timeout=60, headers=bearer(KEY_A)) as a:
        first = _counts(a, "alpha-bees.txt")
        assert first["chunks"] == 1 and first["chunks_cached"] == 0 and first["completion_tokens"] > 0
        calls_for_a = teacher.calls
        # The cache still works within a tenant: the same passage in another collection is answered from it.
        again = _counts(a, "alpha-bees-again.txt", collection="again")
        assert again["chunks_cached"] == 1
    before_b = teacher.calls

    with httpx.Client(base_url=base_url, timeout=60, headers=bearer(KEY_B)) as b:
        second = _counts(b, "beta-bees.txt")
    assert second == first  # exactly what a fresh ingest reports: no hit, the same tokens
    assert teacher.calls - before_b == calls_for_a  # B's notes were generated for B, not read from A's
