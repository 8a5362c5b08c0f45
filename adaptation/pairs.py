"""Training material for adaptation: the collection's passages and the queries that should find them.

Queries come from labelled pairs (BEIR qrels or a JSONL file) and from the synthetic companion's kept
questions and query-style items. A query names the documents (by source) or chunks it is about;
:mod:`adaptation.mining` turns each into a (query, passage, hard negative) triple.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from ingest.context import indexed_text
from kernel import payload as P
from kernel.errors import InvalidRequestError, NotFoundError
from kernel.models import PointKind
from kernel.ports import DenseSpaces
from kernel.tenancy import synthetic_collection

SCAN_PAGE = 512
#: Synthetic item kinds that read like a user's query.
QUERY_KINDS = (PointKind.QUESTION.value, PointKind.QUERY.value)


class Passage(NamedTuple):
    """A stored chunk: its point id, document, source and the text its vectors were made from."""

    id: str
    document_id: str
    source: str
    text: str


class TrainingQuery(BaseModel):
    """A query and what answers it: whole documents (by source) and/or single chunks (by id)."""

    model_config = ConfigDict(frozen=True)

    text: str
    sources: frozenset[str] = Field(default=frozenset(), description="Sources of the relevant documents.")
    chunks: frozenset[str] = Field(default=frozenset(), description="Ids of the relevant chunks.")
    origin: str = Field(description="labelled or synthetic.")


def point_text(payload: Mapping[str, object]) -> str:
    """What the embedder saw for a stored chunk: its context header and its text."""
    header = payload.get(P.CONTEXT)
    return indexed_text(header if isinstance(header, str) else "", str(payload.get(P.TEXT, "")))


Page = list[tuple[str, dict[str, Any]]]


def scan_pages(
    store: DenseSpaces, collection: str, *, limit: int = SCAN_PAGE, missing: str | None = None
) -> Iterator[Page]:
    """Every page of (id, payload) of a collection (only points without a ``missing`` vector, when given)."""
    offset: str | None = None
    while True:
        page, offset = store.scan(collection, offset=offset, limit=limit, missing=missing)
        yield page
        if offset is None:
            return


def read_passages(store: DenseSpaces, collection: str) -> dict[str, Passage]:
    """Every chunk of the collection, by point id."""
    return {
        pid: Passage(pid, str(payload.get(P.DOCUMENT_ID, "")), str(payload.get(P.SOURCE, "")), point_text(payload))
        for page in scan_pages(store, collection)
        for pid, payload in page
        if payload.get(P.KIND) == PointKind.CHUNK.value
    }


def from_qrels(
    queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]], passages: Mapping[str, Passage]
) -> list[TrainingQuery]:
    """Judged queries whose relevant documents (BEIR ids: sources) are in the collection."""
    present = {p.source for p in passages.values()}
    out = []
    for query_id in sorted(qrels):
        relevant = frozenset(s for s, grade in qrels[query_id].items() if grade > 0 and s in present)
        text = queries.get(query_id, "").strip()
        if relevant and text:
            out.append(TrainingQuery(text=text, sources=relevant, origin="labelled"))
    return out


def from_jsonl(path: Path, passages: Mapping[str, Passage]) -> list[TrainingQuery]:
    """Pairs from a JSONL file, a line each: ``{"question": ..., "source": ...}`` (a document's source)
    or ``{"question": ..., "chunk_id": ...}`` (a chunk's point id)."""
    sources = {p.source for p in passages.values()}
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"cannot read pairs file {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InvalidRequestError(f"{path}:{number}: not JSON ({exc})") from exc
        question = row.get("question") if isinstance(row, dict) else None
        if not isinstance(question, str) or not question.strip():
            raise InvalidRequestError(f'{path}:{number}: needs a non-empty "question"')
        source, chunk = row.get("source"), row.get("chunk_id")
        if isinstance(chunk, str) and chunk in passages:
            out.append(TrainingQuery(text=question.strip(), chunks=frozenset([chunk]), origin="labelled"))
        elif isinstance(source, str) and source in sources:
            out.append(TrainingQuery(text=question.strip(), sources=frozenset([source]), origin="labelled"))
        else:
            raise InvalidRequestError(
                f'{path}:{number}: needs a "source" or "chunk_id" of this collection (got {source or chunk!r})'
            )
    return out


def from_synthetic(store: DenseSpaces, collection: str, passages: Mapping[str, Passage]) -> list[TrainingQuery]:
    """The companion's kept questions and query-style items, each about the chunk it was made from."""
    out: list[TrainingQuery] = []
    try:
        for page in scan_pages(store, synthetic_collection(collection)):
            for _pid, payload in page:
                chunk, text = payload.get(P.CHUNK_ID), payload.get(P.TEXT)
                usable = isinstance(chunk, str) and chunk in passages and isinstance(text, str) and text.strip()
                if usable and payload.get(P.KIND) in QUERY_KINDS:
                    query = TrainingQuery(text=str(text).strip(), chunks=frozenset([str(chunk)]), origin="synthetic")
                    out.append(query)
    except NotFoundError:
        return out  # nothing synthesized
    return out


def deduplicated(queries: Sequence[TrainingQuery]) -> list[TrainingQuery]:
    """One query per text (labelled first), in a stable order."""
    seen: dict[str, TrainingQuery] = {}
    for query in sorted(queries, key=lambda q: q.origin != "labelled"):
        seen.setdefault(query.text.casefold(), query)
    return list(seen.values())


def split_queries(
    queries: Sequence[TrainingQuery], *, held_apart: float, seed: int
) -> tuple[list[TrainingQuery], list[TrainingQuery]]:
    """(train, held apart): a seeded share of the queries of each origin kept for the gate."""
    train: list[TrainingQuery] = []
    held: list[TrainingQuery] = []
    for origin in ("labelled", "synthetic"):
        group = sorted((q for q in queries if q.origin == origin), key=lambda q: q.text)
        random.Random(f"{seed}:{origin}").shuffle(group)
        cut = round(len(group) * held_apart)
        held += group[:cut]
        train += group[cut:]
    return train, held


def relevant_sources(query: TrainingQuery, passages: Mapping[str, Passage]) -> set[str]:
    """Documents (sources) the query is about: its sources and the documents of its chunks."""
    return set(query.sources) | {passages[c].source for c in query.chunks if c in passages}
