"""A document-folder dataset (real files plus judged questions) and its measure: a relevant document in the top k.

Layout (``../shared/eval/earnings-calls`` has it): ``docs/`` with the files, ``queries.jsonl`` with
``_id``, ``text`` and optionally ``source_docs`` (relevant file names), and optionally ``qrels.tsv``
(``query-id``, ``corpus-id`` = file name, ``score``), which wins over ``source_docs`` when present.
Every file goes through the service's own parser, so the measure covers parsing too.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from evaluation.beir import DatasetFormatError, DatasetMissingError
from ingest.parse import SUPPORTED_EXTENSIONS, parse_document
from ingest.pipeline import IngestItem
from kernel.ids import sha256_text
from kernel.models import SearchMode
from retrieval.results import SearchResult

Search = Callable[[str], SearchResult]


@dataclass(frozen=True, slots=True)
class DocSet:
    """Files, judged questions and their relevant files (by name)."""

    root: Path
    files: list[Path]
    queries: dict[str, str]
    qrels: dict[str, set[str]]
    answers: dict[str, str] = field(default_factory=dict)  # reference answers, where the file has them
    unanswerable: frozenset[str] = frozenset()  # questions the documents do not answer (a refusal is right)

    @property
    def fingerprint(self) -> str:
        """Names and sizes of the files: an index built from other files is not reused."""
        return sha256_text("\n".join(f"{f.name}:{f.stat().st_size}" for f in self.files))[:16]


def is_docset(root: Path) -> bool:
    """True for a folder laid out as a document-folder dataset."""
    return (root / "docs").is_dir() and (root / "queries.jsonl").is_file()


def _qrels_tsv(path: Path) -> dict[str, set[str]]:
    qrels: dict[str, set[str]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for lineno, row in enumerate(csv.reader(handle, delimiter="\t"), 1):
            if lineno == 1 and row[:1] == ["query-id"]:
                continue
            if len(row) != 3:
                raise DatasetFormatError(f"{path}:{lineno}: expected 3 tab-separated columns, got {len(row)}")
            if int(row[2]) > 0:
                qrels.setdefault(row[0], set()).add(row[1])
    return qrels


def load_docset(root: Path, queries_file: Path | None = None) -> DocSet:
    """Load a document-folder dataset; judged queries are those with at least one relevant file.

    ``queries_file`` (JSONL with ``_id``, ``text``, ``source_docs``) replaces the folder's questions
    and judgments: another question set over the same files.
    """
    if not is_docset(root):
        raise DatasetMissingError(f"{root} is not a document-folder dataset (needs docs/ and queries.jsonl)")
    if queries_file is not None and not queries_file.is_file():
        raise DatasetMissingError(f"questions file not found: {queries_file}")
    files = sorted(p for p in (root / "docs").iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS)
    queries: dict[str, str] = {}
    answers: dict[str, str] = {}
    unanswerable: set[str] = set()
    sources: dict[str, set[str]] = {}
    path = queries_file or root / "queries.jsonl"
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                # "question" is the answer-evaluation spelling of BEIR's "text"; "_id" defaults to the line.
                qid = str(record.get("_id", f"line{lineno}"))
                queries[qid] = str(record["text"] if "text" in record else record["question"])
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise DatasetFormatError(f"{path}:{lineno}: {e!r} (needs 'text' or 'question')") from e
            sources[qid] = {str(s) for s in record.get("source_docs") or []}
            if isinstance(record.get("answer"), str) and record["answer"].strip():
                answers[qid] = record["answer"]
            if record.get("answerable") is False:
                unanswerable.add(qid)
    qrels = _qrels_tsv(root / "qrels.tsv") if queries_file is None and (root / "qrels.tsv").is_file() else sources
    names = {f.name for f in files}
    unknown = sorted({name for rel in qrels.values() for name in rel} - names)
    if unknown:
        raise DatasetFormatError(f"{root}: judgments name files that docs/ lacks: {unknown[:3]}")
    judged = {qid: rel for qid, rel in qrels.items() if rel and qid in queries}
    return DocSet(
        root=root, files=files, queries=queries, qrels=judged, answers=answers, unanswerable=frozenset(unanswerable)
    )


def docset_items(docset: DocSet) -> Iterator[IngestItem]:
    """Every file parsed by the service's parser, keyed by its name."""
    for path in docset.files:
        yield IngestItem(document=parse_document(path.read_bytes(), path.name), source_key=path.name)


class DocsetReport(BaseModel):
    """Share of judged questions with a relevant file among the top ``k`` hits, overall and per question type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: SearchMode
    k: int
    hit: float = Field(description="Share of questions with a relevant file in the top k hits.")
    single: float = Field(description="The same, questions with one relevant file.")
    multi: float = Field(description="The same, questions with several relevant files.")
    n_single: int
    n_multi: int
    interpreted: int = Field(description="Questions whose period or organisation was recognised and preferred.")
    per_query: dict[str, float] = Field(description="1.0 or 0.0 per question id (for paired comparisons).")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def evaluate_docset(docset: DocSet, search: Search, *, mode: SearchMode, k: int) -> DocsetReport:
    """Run every judged question through ``search`` and count a relevant file among the top k hits."""
    per_query: dict[str, float] = {}
    interpreted = 0
    for qid, relevant in sorted(docset.qrels.items()):
        result = search(docset.queries[qid])
        interpreted += result.interpretation is not None
        per_query[qid] = float(any(hit.source in relevant for hit in result.hits[:k]))
    single = [v for qid, v in per_query.items() if len(docset.qrels[qid]) == 1]
    multi = [v for qid, v in per_query.items() if len(docset.qrels[qid]) > 1]
    return DocsetReport(
        mode=mode,
        k=k,
        hit=_mean(list(per_query.values())),
        single=_mean(single),
        multi=_mean(multi),
        n_single=len(single),
        n_multi=len(multi),
        interpreted=interpreted,
        per_query=per_query,
    )
