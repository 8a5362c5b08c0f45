"""A remote teacher over real HTTP: a loopback OpenAI-compatible server (real model behind it), not an SDK mock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.components import build_configured
from ingest.pipeline import IngestItem
from kernel.models import Document, Section
from kernel.settings import ChatModelSettings, Settings
from knowledge.cache import GenerationCache
from knowledge.generate import TeacherGenerator
from llm.factory import create_chat_model
from retrieval.embedding import SentenceTransformerEmbedder
from tests.fakes import CountingChat
from tests.fixtures_docs import LIGHTHOUSES
from tests.llm.openai_stub_server import STUB_MODEL_NAME, OpenAIStubServer

pytestmark = pytest.mark.slow


@pytest.fixture
def server(counting_chat: CountingChat) -> Iterator[OpenAIStubServer]:
    # The real model behind the server, recording how many requests were inside it at once.
    with OpenAIStubServer(counting_chat) as stub:
        yield stub


def _remote(server: OpenAIStubServer, **extra: Any) -> ChatModelSettings:
    return ChatModelSettings(
        backend="openai", base_url=server.base_url, model_name=STUB_MODEL_NAME, timeout_s=60, **extra
    )


def test_remote_teacher_gets_json_schema_response_format(server: OpenAIStubServer, tmp_path: Path) -> None:
    teacher = create_chat_model(_remote(server))
    generator = TeacherGenerator(teacher, GenerationCache.open(tmp_path), questions=2)
    result = generator.chunk_notes(" ".join(LIGHTHOUSES))
    assert result.notes is not None, result.error
    body = server.requests[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["keywords", "summary", "questions"]
    assert generator.model_id == f"openai:{server.base_url}:{STUB_MODEL_NAME}"


def test_remote_teacher_runs_chunks_concurrently_within_the_bound(
    server: OpenAIStubServer, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        synth={"enabled": True, "generate": "all"},
        teacher=_remote(server, max_concurrency=3),
    )
    components = build_configured(settings, answers=False, embedder=embedder)
    paragraphs = [f"{p} Record {i} of the lighthouse survey." for i in range(6) for p in LIGHTHOUSES]
    text = "\n\n".join(paragraphs)
    doc = Document(
        source="lights.txt", format="txt", title="Lighthouses", text=text, sections=[Section(start=0, end=len(text))]
    )
    try:
        [outcome] = components.ingest.ingestor.ingest(
            [IngestItem(document=doc, source_key="lights.txt")], collection="c"
        )
    finally:
        components.close()
    assert outcome.synthetic is not None and outcome.chunks >= 4
    assert outcome.synthetic.chunks == outcome.chunks
    probe = server.model
    assert isinstance(probe, CountingChat)
    assert 2 <= probe.peak <= 3  # several requests in flight, never more than max_concurrency


def test_unavailable_remote_teacher_is_counted_not_fatal(
    server: OpenAIStubServer, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    server.fail_status = 503
    settings = Settings(
        data_dir=tmp_path / "data",
        synth={"enabled": True, "max_attempts": 1, "generate": "all"},
        teacher=_remote(server),
    )
    components = build_configured(settings, answers=False, embedder=embedder)
    text = "\n\n".join(LIGHTHOUSES)
    doc = Document(source="l.txt", format="txt", title="L", text=text, sections=[Section(start=0, end=len(text))])
    try:
        [outcome] = components.ingest.ingestor.ingest([IngestItem(document=doc, source_key="l.txt")], collection="c")
        assert outcome.status == "indexed"
        assert outcome.synthetic is not None and outcome.synthetic.chunks_failed == outcome.chunks
        assert len(server.requests) >= 2  # the SDK retried with backoff before giving up
        assert components.search.searcher.search("Pharos of Alexandria", collection="c", k=1).hits[0].source == "l.txt"
    finally:
        components.close()
