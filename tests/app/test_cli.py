"""The ``synthrag`` console script, run as a real process: ingest, search, serve, eval."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures_docs import write_sample_folder

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "synthrag"


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "SYNTHRAG_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], env=_env(data_dir), capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def first_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("cli")
    docs = root / "docs"
    docs.mkdir()
    write_sample_folder(docs)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    data = root / "data"
    return root, data, _run(["ingest", str(docs), "--no-progress"], data)


@pytest.fixture
def ingested(first_run: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> tuple[Path, Path]:
    return first_run[0], first_run[1]


def test_first_ingest_reports_counts_and_failures(
    first_run: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    result = first_run[2]
    assert result.returncode == 1, result.stderr  # the broken file makes the run report failure
    assert "5 documents indexed" in result.stdout
    assert "1 failed" in result.stdout
    assert "broken.pdf" in result.stdout


def test_ingest_summary_and_skip_unchanged(ingested: tuple[Path, Path]) -> None:
    root, data = ingested
    again = _run(["ingest", str(root / "docs" / "sample.md"), str(root / "docs"), "--no-progress"], data)
    assert "5 skipped-unchanged" in again.stdout, again.stdout + again.stderr  # sample.md counted once
    assert "0 documents indexed" in again.stdout


def test_search_json_lists_hits_with_source_and_page(ingested: tuple[Path, Path]) -> None:
    # Every format is found by its own topic in tests/app/test_rest.py (in-process, faster).
    _, data = ingested
    result = _run(["search", "lighthouse history", "--json", "--k", "3"], data)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    assert len(hits) == 3
    assert hits[0]["source"] == "sample.pdf"
    assert hits[0]["page"] in (1, 2)
    assert {"text", "score", "document_id", "source", "page"} <= hits[0].keys()


def test_search_text_output_and_modes(ingested: tuple[Path, Path]) -> None:
    _, data = ingested
    result = _run(["search", "chess", "--mode", "bm25"], data)
    assert result.returncode == 0
    assert "sample.html" in result.stdout.splitlines()[0]


def test_bad_setting_fails_at_startup_naming_the_variable(tmp_path: Path) -> None:
    env = {**_env(tmp_path), "SYNTHRAG_SEARCH_K": "zero"}
    result = subprocess.run(
        [str(SCRIPT), "search", "x"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2
    assert "SYNTHRAG_SEARCH_K" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_real_http(ingested: tuple[Path, Path]) -> None:
    _, data = ingested
    port = _free_port()
    log = (data.parent / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(SCRIPT), "serve", "--port", str(port)], env=_env(data), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (data.parent / "serve.log").read_text()
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.5)
        response = httpx.post(f"{base}/v1/search", json={"query": "sourdough"}, timeout=30)
        assert response.status_code == 200
        assert response.json()["hits"][0]["source"] == "sample.docx"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_ask_json_answers_with_citations(ingested: tuple[Path, Path]) -> None:
    _, data = ingested
    result = _run(["ask", "What is a sourdough starter?", "--json"], data)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["answer"] and not answer["refused"]
    assert answer["hits"][0]["source"] == "sample.docx"
    for citation in answer["citations"]:
        assert citation["quote"] in answer["hits"][citation["number"] - 1]["text"]


def test_ask_refuses_without_support(ingested: tuple[Path, Path]) -> None:
    _, data = ingested
    result = _run(["ask", "Who painted the Mona Lisa?"], data)
    assert result.returncode == 0, result.stderr
    assert "could not find" in result.stdout


@pytest.mark.parametrize("command", ["search", "ask", "inspect", "ingest"])
def test_an_invalid_collection_name_is_an_error_line_not_a_traceback(command: str, tmp_path: Path) -> None:
    first = {"search": "bees", "ask": "bees?", "inspect": "some-document-id", "ingest": str(tmp_path)}[command]
    result = _run([command, first, "--collection", "a/b"], tmp_path / "data")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "synthrag: error: invalid collection name 'a/b'" in result.stderr
    assert "letters, digits" in result.stderr
