"""Components are built with injected parts, and each route gets exactly the part it asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.components import Components, build_components, load_chat_models
from app.main import create_app
from ingest.files import collect_files, load_item
from kernel.models import ScoredPoint, StoreQuery
from kernel.ports import VectorStore
from kernel.settings import ChatModelSettings, Settings
from llm.llama_cpp import LlamaCppChatModel
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.stores.factory import create_store
from tests.fakes import ScriptedChat, ScriptedChats
from tests.fixtures_docs import write_sample_folder

pytestmark = pytest.mark.slow


class CountingStore:
    """The real store, counting the searches that reach it."""

    def __init__(self, inner: VectorStore) -> None:
        self.inner = inner
        self.queries: list[str] = []

    def query(self, collection: str, query: StoreQuery) -> list[ScoredPoint]:
        self.queries.append(collection)
        return self.inner.query(collection, query)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _with_samples(components: Components, tmp_path: Path) -> Components:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_sample_folder(folder)
    found, _ = collect_files([folder])
    components.ingest.ingestor.ingest((load_item(f) for f in found), collection=components.settings.collection)
    return components


@pytest.fixture
def injected(
    settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path, scripted_chat: ScriptedChats
) -> Iterator[tuple[Components, CountingStore, ScriptedChat]]:
    store = CountingStore(create_store(settings))
    chat = scripted_chat(["According to the documents [1]."], model_id="recording", loop=True)
    components = build_components(settings, embedder=embedder, store=store, chat=chat)
    yield _with_samples(components, tmp_path), store, chat
    components.close()


def test_routes_use_the_injected_store_and_chat_model(
    injected: tuple[Components, CountingStore, ScriptedChat],
) -> None:
    components, store, chat = injected
    assert components.search.store is store and components.search.searcher is not None
    app = create_app(components.settings, components=lambda _s: components)
    with TestClient(app, base_url="http://localhost") as client:
        hits = client.post("/v1/search", json={"query": "honey bees in the hive"}).json()["hits"]
        assert hits and store.queries == ["default"]
        answer = client.post("/v1/answer", json={"question": "How do honey bees live in the hive?"})
        assert answer.status_code == 200, answer.text
        assert len(chat.prompts) == 1 and "hive" in chat.prompts[0]
        assert client.get("/readyz").json()["checks"]["chat"] == {"status": "ok", "message": "recording"}


def test_without_a_chat_model_answers_are_refused_and_search_still_works(
    settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    components = _with_samples(build_components(settings, embedder=embedder), tmp_path)
    app = create_app(settings, components=lambda _s: components)
    with TestClient(app, base_url="http://localhost") as client:
        assert components.answers is None
        response = client.post("/v1/answer", json={"question": "How do bees live?"})
        assert response.status_code == 500
        assert "without a chat model" in response.json()["error"]["message"]
        assert client.post("/v1/search", json={"query": "bees"}).json()["hits"]
        assert client.get("/readyz").json()["checks"]["chat"]["status"] == "skipped"


def test_with_chat_returns_new_components_and_leaves_the_original_alone(
    settings: Settings, embedder: SentenceTransformerEmbedder, scripted_chat: ScriptedChats
) -> None:
    components = build_components(settings, embedder=embedder)
    try:
        chat = scripted_chat(["Hello."], model_id="recording")
        answering = components.with_chat(chat)
        assert components.answers is None and answering.answers is not None
        assert answering.answers.model_id == "recording"
        assert answering.search is components.search and answering.ingest is components.ingest
    finally:
        components.close()


@pytest.mark.slow
def test_both_roles_share_one_model_only_when_they_run_it_alike(tmp_path: Path) -> None:
    alike = ChatModelSettings(weights="file", flash_attention=False, context_tokens=512)
    models = load_chat_models(Settings(data_dir=tmp_path, llm=alike, teacher=alike), answers=True, synthesis=True)
    assert models.teacher is models.chat
    # Left to defaults, the same settings run differently per role: the teacher with fused attention
    # (and widened weights where the CPU has AVX512-BF16), the answer model as before.
    defaults = ChatModelSettings(context_tokens=512)
    models = load_chat_models(Settings(data_dir=tmp_path, llm=defaults, teacher=defaults), answers=True, synthesis=True)
    assert isinstance(models.chat, LlamaCppChatModel) and isinstance(models.teacher, LlamaCppChatModel)
    assert models.teacher is not models.chat
    assert models.chat.weights == "file" and ":flash" not in models.chat.model_id
    assert models.teacher.model_id.endswith(":flash") and models.teacher.weights in {"file", "bf16"}
