"""`synthrag ingest` synthesizes by default (with counts per document), `--no-synth`, and `synthrag inspect`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.components import build_components
from kernel.models import SearchMode
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.fixtures_docs import BEEKEEPING, CHESS

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "synthrag"


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    # The product default: the test session's SYNTHRAG_SYNTH__ENABLED=false is not passed on.
    env = {k: v for k, v in os.environ.items() if k != "SYNTHRAG_SYNTH__ENABLED"}
    env |= {"SYNTHRAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=600, check=False)


def test_ingest_synthesizes_by_default_and_inspect_shows_items(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bees.txt").write_text("\n\n".join(BEEKEEPING))
    data = tmp_path / "data"
    first = _run(["ingest", str(docs), "--no-progress"], data)
    assert first.returncode == 0, first.stderr
    assert "1 documents indexed" in first.stdout
    line = re.search(r"bees\.txt \(([0-9a-f-]{36})\): generated (\d+), kept (\d+), dropped: (.*)", first.stdout)
    assert line, first.stdout
    doc_id = line.group(1)
    assert "synthesis by llama-cpp:SmolLM2-135M-Instruct.Q4_1.gguf" in first.stdout

    again = _run(["ingest", str(docs), "--no-progress"], data)
    assert "1 skipped-unchanged" in again.stdout and "every document already up to date" in again.stdout

    shown = _run(["inspect", doc_id], data)
    assert shown.returncode == 0, shown.stderr
    assert f"document {doc_id}" in shown.stdout
    assert re.search(r"items generated \d+, kept \d+, dropped repetitive \d+, grounding \d+", shown.stdout)
    as_json = json.loads(_run(["inspect", doc_id, "--json"], data).stdout)
    assert as_json["document_id"] == doc_id
    assert as_json["counts"]["generated"] == int(line.group(2)) and as_json["counts"]["kept"] == int(line.group(3))
    dropped = [i for i in as_json["items"] if not i["kept"]]
    assert all(i["reason"] in {"repetitive", "grounding", "duplicate", "roundtrip"} for i in dropped)

    unknown = _run(["inspect", "00000000-0000-0000-0000-000000000000"], data)
    assert unknown.returncode == 2 and "no synthetic knowledge" in unknown.stderr


def test_no_synth_skips_the_teacher(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "chess.txt").write_text("\n\n".join(CHESS))
    result = _run(["ingest", str(docs), "--no-progress", "--no-synth"], tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert "synthesis: off" in result.stdout
    assert "generated" not in result.stdout


def test_ingest_with_synthesis_leaves_chunk_search_exactly_as_no_synth(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bees.txt").write_text("\n\n".join(BEEKEEPING))
    (docs / "chess.txt").write_text("\n\n".join(CHESS))
    synthesized, plain = tmp_path / "synth", tmp_path / "plain"
    assert _run(["ingest", str(docs), "--no-progress"], synthesized).returncode == 0
    assert _run(["ingest", str(docs), "--no-progress", "--no-synth"], plain).returncode == 0
    key = ["text", "score", "document_id", "chunk_index", "start", "end"]

    def searches(data_dir: Path) -> list[list[list[object]]]:
        # The searcher `synthrag search` runs, with the product's settings (synthesis on), in-process: a
        # CLI process per search would spend 16 model loads on what this test compares.
        components = build_components(Settings(data_dir=data_dir, synth={"enabled": True}), embedder=embedder)
        try:
            return [
                [
                    [h.model_dump()[k] for k in key]
                    for h in components.search.searcher.search(
                        query, collection=components.settings.collection, k=8, mode=mode
                    ).hits
                ]
                for mode in SearchMode
                for query in ("when is honey harvested", "which opening starts with e4")
            ]
        finally:
            components.close()

    with_synth, without = searches(synthesized), searches(plain)
    assert with_synth == without
    assert all(with_synth)
    # The CLI prints what the searcher returns.
    args = ["search", "when is honey harvested", "--mode", "hybrid", "--k", "8", "--json"]
    printed = [[h[k] for k in key] for h in json.loads(_run(args, synthesized).stdout)["hits"]]
    assert printed == with_synth[list(SearchMode).index(SearchMode.HYBRID) * 2]
