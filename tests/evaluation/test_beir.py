"""The BEIR loader on a tiny folder written per test, plus a smoke load of the real SciFact train split."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from evaluation.beir import (
    BeirDoc,
    DatasetFormatError,
    DatasetMissingError,
    available_splits,
    corpus_fingerprint,
    load_beir,
)
from kernel.errors import InputError

CORPUS: list[dict[str, object]] = [
    {"_id": "d1", "title": "Aspirin", "text": "Aspirin lowers fever.", "metadata": {}},
    {"_id": "d2", "title": "", "text": "Water boils at 100 C.", "metadata": {"source": "x"}},
    {"_id": "d3", "text": "No title field at all."},
]
QUERIES: list[dict[str, object]] = [
    {"_id": "q1", "text": "Does aspirin reduce fever?", "metadata": {}},
    {"_id": "q2", "text": "Boiling point of water?", "metadata": {}},
    {"_id": "q3", "text": "A query judged only in test.", "metadata": {}},
]
TRAIN = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td3\t0\n"


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def beir_dir(tmp_path: Path) -> Path:
    _write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    _write_jsonl(tmp_path / "queries.jsonl", QUERIES)
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "train.tsv").write_text(TRAIN, encoding="utf-8")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq3\td1\t1\n", encoding="utf-8")
    return tmp_path


def test_loads_corpus_split_queries_and_graded_qrels(beir_dir: Path) -> None:
    data = load_beir(beir_dir, "train")
    assert data.corpus == {
        "d1": BeirDoc(title="Aspirin", text="Aspirin lowers fever."),
        "d2": BeirDoc(title="", text="Water boils at 100 C."),
        "d3": BeirDoc(title="", text="No title field at all."),
    }
    # q3 is judged only in the test split, so it is not a train query.
    assert data.queries == {"q1": "Does aspirin reduce fever?", "q2": "Boiling point of water?"}
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}}
    assert list(load_beir(beir_dir, "test").queries) == ["q3"]


def test_qrels_without_header_and_numeric_ids_are_accepted(beir_dir: Path) -> None:
    _write_jsonl(beir_dir / "corpus.jsonl", [{"_id": 7, "title": "t", "text": "seven"}])
    _write_jsonl(beir_dir / "queries.jsonl", [{"_id": 1, "text": "one"}])
    (beir_dir / "qrels" / "train.tsv").write_text("1\t7\t1\n\n", encoding="utf-8")
    data = load_beir(beir_dir, "train")
    assert data.corpus == {"7": BeirDoc(title="t", text="seven")}
    assert data.queries == {"1": "one"}
    assert data.qrels == {"1": {"7": 1}}


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissingError, match="folder not found"):
        load_beir(tmp_path / "nope", "train")


@pytest.mark.parametrize("name", ["corpus.jsonl", "queries.jsonl"])
def test_missing_file(beir_dir: Path, name: str) -> None:
    (beir_dir / name).unlink()
    with pytest.raises(DatasetMissingError, match=name):
        load_beir(beir_dir, "train")


def test_missing_split_lists_available_ones(beir_dir: Path) -> None:
    with pytest.raises(DatasetMissingError, match=r"'dev' not found .*available: test, train") as info:
        load_beir(beir_dir, "dev")
    assert isinstance(info.value, InputError)
    assert available_splits(beir_dir) == ["test", "train"]


def test_missing_qrels_folder_says_so(beir_dir: Path) -> None:
    for path in (beir_dir / "qrels").iterdir():
        path.unlink()
    (beir_dir / "qrels").rmdir()
    with pytest.raises(DatasetMissingError, match=r"available: none \(no qrels/\*\.tsv\)"):
        load_beir(beir_dir, "train")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"title": "t", "text": "x"}', "'_id' must be a string (missing)"),
        ('{"_id": "d9", "title": "t"}', "'text' must be a string (missing)"),
        ('{"_id": "d9", "title": 5, "text": "x"}', "'title' must be a string (got int)"),
        ('{"_id": "d1", "text": "again"}', "duplicate document id 'd1'"),
    ],
)
def test_malformed_corpus_line_names_file_and_line(beir_dir: Path, line: str, problem: str) -> None:
    path = beir_dir / "corpus.jsonl"
    # The bad line is line 4, right after the three good ones.
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=r"corpus\.jsonl:4: ") as info:
        load_beir(beir_dir, "train")
    assert problem in info.value.message


def test_invalid_utf8_names_the_line(beir_dir: Path) -> None:
    with (beir_dir / "queries.jsonl").open("ab") as handle:
        handle.write(b'{"_id": "q9", "text": "\xff"}\n')
    with pytest.raises(DatasetFormatError, match=r"queries\.jsonl:4: not valid UTF-8"):
        load_beir(beir_dir, "train")


@pytest.mark.parametrize(
    ("row", "problem"),
    [("q1\td1", "expected 3 tab-separated fields"), ("q1\td1\thigh", "score 'high' is not an integer")],
)
def test_malformed_qrels_line(beir_dir: Path, row: str, problem: str) -> None:
    (beir_dir / "qrels" / "train.tsv").write_text(TRAIN + row + "\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=r"train\.tsv:5: ") as info:
        load_beir(beir_dir, "train")
    assert problem in info.value.message


def test_qrels_naming_an_unknown_query_is_an_error(beir_dir: Path) -> None:
    (beir_dir / "qrels" / "train.tsv").write_text(TRAIN + "q404\td1\t1\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=r"absent from queries\.jsonl: 'q404'"):
        load_beir(beir_dir, "train")


def test_corpus_fingerprint_is_sha256_of_the_file(beir_dir: Path) -> None:
    expected = hashlib.sha256((beir_dir / "corpus.jsonl").read_bytes()).hexdigest()
    assert corpus_fingerprint(beir_dir) == expected
    (beir_dir / "corpus.jsonl").unlink()
    with pytest.raises(DatasetMissingError):
        corpus_fingerprint(beir_dir)


def test_real_scifact_train_split_loads(scifact_dir: Path) -> None:
    data = load_beir(scifact_dir, "train")
    assert len(data.queries) == 809
    assert len(data.corpus) == 5183
    assert sum(len(docs) for docs in data.qrels.values()) == 919
    # README: byte-identical to BEIR's scifact/corpus.jsonl, sha256 dec31c81...d1ac6.
    fingerprint = corpus_fingerprint(scifact_dir)
    assert fingerprint.startswith("dec31c81")
    assert fingerprint.endswith("d1ac6")
