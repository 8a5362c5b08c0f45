"""Uploads synthesize by default; GET /v1/documents/{id}/synthetic over real HTTP with the bundled teacher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.components import Components, build_components
from kernel.settings import Settings, SynthSettings
from llm.llama_cpp import LlamaCppChatModel
from retrieval.embedding import SentenceTransformerEmbedder
from tests.app.upload_support import serve, upload_and_wait
from tests.fixtures_docs import BEEKEEPING, make_txt

pytestmark = pytest.mark.slow


@pytest.fixture
def synth_components(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, llama_model: LlamaCppChatModel
) -> Iterator[Components]:
    # The product default: no synth.enabled given, only the test session's env override removed.
    settings = Settings(data_dir=tmp_path / "data", synth={"enabled": SynthSettings.model_fields["enabled"].default})
    built = build_components(settings, embedder=embedder, teacher=llama_model)
    yield built
    built.close()


def test_upload_is_synthesized_and_inspectable(synth_components: Components) -> None:
    assert synth_components.ingest.ingestor.synthesis is not None  # on by default
    with serve(synth_components) as client:
        [result] = upload_and_wait(client, [("bees.txt", make_txt(BEEKEEPING))])
        doc_id = result["document_id"]
        response = client.get(f"/v1/documents/{doc_id}/synthetic")
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["document_id"] == doc_id
        assert report["teacher"].startswith("llama-cpp:SmolLM2")
        counts = report["counts"]
        assert counts["chunks"] >= 1 and counts["generated"] == counts["kept"] + sum(counts["dropped"].values())
        assert set(counts["dropped"]) == {"repetitive", "grounding", "duplicate", "roundtrip"}
        for item in report["items"]:
            assert item["kept"] == (item["reason"] is None)
            assert item["kind"] in {"question", "summary", "keywords", "document_summary", "entity", "date"}

        hits = client.post("/v1/search", json={"query": "when is honey harvested", "k": 3}).json()["hits"]
        assert hits[0]["document_id"] == doc_id and hits[0]["kind"] == "chunk"
        raw = client.post("/v1/search", json={"query": "when is honey harvested", "k": 3, "synthetic": False})
        assert raw.status_code == 200 and all(h["matched_kind"] is None for h in raw.json()["hits"])

        missing = client.get("/v1/documents/00000000-0000-0000-0000-000000000000/synthetic")
        assert missing.status_code == 404

        assert client.delete(f"/v1/documents/{doc_id}").status_code == 200
        assert synth_components.ingest.reports.get(synth_components.settings.collection, doc_id) is None


def test_synthetic_report_is_404_with_a_reason_when_synthesis_is_off(components: Components) -> None:
    assert components.ingest.ingestor.synthesis is None  # the test session turns synthesis off
    with serve(components) as client:
        [result] = upload_and_wait(client, [("bees.txt", make_txt(BEEKEEPING))])
        response = client.get(f"/v1/documents/{result['document_id']}/synthetic")
        assert response.status_code == 404
        assert "synthesis is off" in response.json()["error"]["message"]


def test_search_filters_on_synthesized_metadata(synth_components: Components) -> None:
    with serve(synth_components) as client:
        [result] = upload_and_wait(client, [("bees.txt", make_txt(BEEKEEPING))])
        report = client.get(f"/v1/documents/{result['document_id']}/synthetic").json()
        doc_type = report["document"]["type"] if report["document"] else None
        if doc_type is None:
            pytest.skip("the teacher wrote no document notes for this text")
        body = {"query": "honey bees", "k": 3, "filters": {"metadata": {"doc_type": doc_type}}}
        assert client.post("/v1/search", json=body).json()["hits"]
        other = "contract" if doc_type != "contract" else "email"
        body["filters"] = {"metadata": {"doc_type": other}}
        assert client.post("/v1/search", json=body).json()["hits"] == []
