"""Load a BEIR-format dataset (corpus, queries, one qrels split) from a folder, with clear errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.errors import InputError

_CORPUS = "corpus.jsonl"
_QUERIES = "queries.jsonl"
_QRELS_DIR = "qrels"
_QRELS_HEADER = ("query-id", "corpus-id", "score")


class DatasetMissingError(InputError):
    """The dataset folder, one of its files, or the requested qrels split does not exist."""


class DatasetFormatError(InputError):
    """A dataset file has a malformed line; the message names the file and the line number."""


@dataclass(frozen=True, slots=True)
class BeirDoc:
    """One corpus document."""

    title: str
    text: str


@dataclass(frozen=True, slots=True)
class BeirDataset:
    """A corpus, the queries judged in one split, and that split's relevance judgments."""

    corpus: dict[str, BeirDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _require_file(path: Path) -> Path:
    if not path.is_file():
        raise DatasetMissingError(f"BEIR dataset file not found: {path}")
    return path


def _require_dir(directory: Path) -> Path:
    if not directory.is_dir():
        raise DatasetMissingError(f"BEIR dataset folder not found: {directory}")
    return directory


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    # Decode line by line so an encoding error can be reported with its line number.
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as e:
                raise DatasetFormatError(f"{path}:{lineno}: not valid UTF-8 ({e.reason})") from e
            if line:
                yield lineno, line


def _str_field(obj: dict[str, Any], key: str, where: str, *, default: str | None = None) -> str:
    value = obj.get(key, default)
    # Some BEIR exports write numeric ids; they are ids all the same, so keep them as strings.
    if key == "_id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        found = "missing" if key not in obj else f"got {type(value).__name__}"
        raise DatasetFormatError(f"{where}: field {key!r} must be a string ({found})")
    return value


def _jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for lineno, line in _lines(path):
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetFormatError(f"{where}: invalid JSON ({e.msg})") from e
        if not isinstance(obj, dict):
            raise DatasetFormatError(f"{where}: expected a JSON object, found {type(obj).__name__}")
        yield where, obj


def _load_corpus(path: Path) -> dict[str, BeirDoc]:
    corpus: dict[str, BeirDoc] = {}
    for where, obj in _jsonl(path):
        doc_id = _str_field(obj, "_id", where)
        if doc_id in corpus:
            raise DatasetFormatError(f"{where}: duplicate document id {doc_id!r}")
        title = _str_field(obj, "title", where, default="")
        corpus[doc_id] = BeirDoc(title=title, text=_str_field(obj, "text", where))
    return corpus


def _load_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for where, obj in _jsonl(path):
        query_id = _str_field(obj, "_id", where)
        if query_id in queries:
            raise DatasetFormatError(f"{where}: duplicate query id {query_id!r}")
        queries[query_id] = _str_field(obj, "text", where)
    return queries


def _load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line in _lines(path):
        fields = tuple(field.strip() for field in line.split("\t"))
        if lineno == 1 and fields == _QRELS_HEADER:
            continue
        if len(fields) != 3:
            raise DatasetFormatError(
                f"{path}:{lineno}: expected 3 tab-separated fields (query-id, corpus-id, score), found {len(fields)}"
            )
        query_id, doc_id, score = fields
        try:
            grade = int(score)
        except ValueError as e:
            raise DatasetFormatError(f"{path}:{lineno}: score {score!r} is not an integer") from e
        qrels.setdefault(query_id, {})[doc_id] = grade
    return qrels


def available_splits(directory: Path) -> list[str]:
    """Names of the qrels splits in a BEIR folder (``qrels/<split>.tsv``), sorted."""
    return sorted(path.stem for path in (directory / _QRELS_DIR).glob("*.tsv") if path.is_file())


def load_beir(directory: Path, split: str) -> BeirDataset:
    """Read a BEIR folder: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

    Args:
        directory: The dataset folder.
        split: The qrels split to load, e.g. ``train`` or ``test``.

    Returns:
        The whole corpus, the queries that have judgments in ``split``, and those judgments.

    Raises:
        DatasetMissingError: The folder, a file, or the split is missing (the message lists the splits).
        DatasetFormatError: A line is malformed, an id repeats, or the qrels name an unknown query.
    """
    _require_dir(directory)
    corpus_path = _require_file(directory / _CORPUS)
    queries_path = _require_file(directory / _QUERIES)
    qrels_path = directory / _QRELS_DIR / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = available_splits(directory)
        listed = ", ".join(splits) if splits else f"none (no {_QRELS_DIR}/*.tsv)"
        raise DatasetMissingError(f"BEIR split {split!r} not found in {directory}; available: {listed}")
    qrels = _load_qrels(qrels_path)
    all_queries = _load_queries(queries_path)
    unknown = sorted(qid for qid in qrels if qid not in all_queries)
    if unknown:
        shown = ", ".join(repr(qid) for qid in unknown[:5])
        raise DatasetFormatError(
            f"{qrels_path}: {len(unknown)} judged query id(s) absent from {queries_path.name}: {shown}"
        )
    # Only judged queries are evaluable; BEIR's own loader restricts them the same way.
    queries = {qid: all_queries[qid] for qid in qrels}
    return BeirDataset(corpus=_load_corpus(corpus_path), queries=queries, qrels=qrels)


def corpus_fingerprint(directory: Path) -> str:
    """SHA-256 hex digest of ``corpus.jsonl``, read in blocks so large corpora stay out of memory.

    Args:
        directory: The dataset folder.

    Returns:
        The hex digest, to tie indexes and reports to the exact corpus they were built from.
    """
    path = _require_file(_require_dir(directory) / _CORPUS)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
