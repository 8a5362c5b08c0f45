"""Ingest planning: a group of documents chunked, identified, and checked against the store in one look-up.

A plan says which of a document's chunks are not stored yet and which stored points an older version left.
The store is asked once per group of documents (one filtered scroll for all of them, one more in the
synthetic companion for those that changed), not twice per document: on small documents those look-ups
were ~2% of ingest time on 2 cores (a profile of ``python -m bench ingest``'s 512 chunks).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ingest.chunking import chunk_document
from ingest.context import chunk_header, document_context
from kernel.errors import SynthragError
from kernel.ids import chunk_point_id, document_id, sha256_text
from kernel.models import SYNTHETIC_KINDS, Chunk, Document, PointKind
from kernel.ports import PointStore
from kernel.tenancy import synthetic_collection

#: Documents planned together (one store look-up each group).
PLAN_GROUP = 64
_SYNTHETIC = frozenset(str(kind) for kind in SYNTHETIC_KINDS)


class IngestItem(BaseModel):
    """A parsed document and how to file it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document: Document
    source_key: str = Field(description="Identity of the source (path or name); same key = same document.")
    document_id: str | None = Field(default=None, description="Use this id, not one derived from source_key.")
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


@dataclass
class Planned:
    """What ingesting one document writes and removes."""

    item: IngestItem
    document_id: str
    version: str
    chunks: list[Chunk]
    point_ids: list[str]
    stale_ids: set[str]
    missing: list[int] = field(default_factory=list)  # indexes of chunks not yet stored
    stale_synthetic: set[str] = field(default_factory=set)  # the old version's points in the companion
    context: dict[str, Any] = field(default_factory=dict)  # period, organisation found in the document
    headers: list[str] = field(default_factory=list)  # per chunk: the context header indexed with it


@dataclass(frozen=True)
class Chunking:
    """How documents become chunks and chunk ids (the ingestor's configuration)."""

    count_tokens: Callable[[Sequence[str]], list[int]]
    model_id: str
    max_tokens: int
    overlap_tokens: int
    chunk_config: str
    context_headers: bool


def item_document_id(item: IngestItem, collection: str) -> str:
    """The id a document is filed under in ``collection``."""
    return item.document_id or document_id(collection, item.source_key)


def groups(items: Iterable[IngestItem], collection: str, size: int = PLAN_GROUP) -> Iterator[list[IngestItem]]:
    """Consecutive items, at most ``size`` a group, no document twice in a group (a repeat starts the next
    one, so that it is planned after the earlier version is written)."""
    group: list[IngestItem] = []
    ids: set[str] = set()
    for item in items:
        doc_id = item_document_id(item, collection)
        if len(group) >= size or doc_id in ids:
            yield group
            group, ids = [], set()
        group.append(item)
        ids.add(doc_id)
    if group:
        yield group


def plan_group(
    store: PointStore, chunking: Chunking, items: Sequence[IngestItem], collection: str
) -> list[Planned | SynthragError]:
    """One plan per item, in order, or the error that kept it from being planned.

    A failed look-up fails every item of the group (each gets the error).
    """
    drafts: list[Planned | SynthragError] = []
    for item in items:
        try:
            drafts.append(_draft(chunking, item, collection))
        except SynthragError as exc:
            drafts.append(exc)
    plans = [d for d in drafts if isinstance(d, Planned)]
    try:
        stored = store.documents_point_kinds(collection, [p.document_id for p in plans])
        for plan in plans:
            _compare(plan, stored.get(plan.document_id, {}))
        changed = [p for p in plans if p.missing or p.stale_ids]
        companion = synthetic_collection(collection)
        old = store.documents_point_kinds(companion, [p.document_id for p in changed]) if changed else {}
    except SynthragError as exc:
        return [exc if isinstance(d, Planned) else d for d in drafts]
    for plan in changed:
        plan.stale_synthetic = set(old.get(plan.document_id, {}))
    return drafts


def _draft(chunking: Chunking, item: IngestItem, collection: str) -> Planned:
    """The document's chunks, version and point ids (nothing compared with the store yet)."""
    doc_id = item_document_id(item, collection)
    chunks = chunk_document(
        item.document,
        document_id=doc_id,
        count_tokens=chunking.count_tokens,
        max_tokens=chunking.max_tokens,
        overlap_tokens=chunking.overlap_tokens,
    )
    attributes = sha256_text(json.dumps([item.tags, item.metadata, item.document.title], sort_keys=True))
    # Any change to the document gives every point a new id: the new version is written whole,
    # then the old one deleted, and readers keep the newest version they see (retrieval.search).
    version = sha256_text(item.document.text + attributes)[:16]
    ids = [
        chunk_point_id(
            document_id=doc_id,
            index=c.index,
            text=c.text,
            model_id=chunking.model_id,
            chunk_config=chunking.chunk_config,
            attributes=version,
        )
        for c in chunks
    ]
    context = document_context(item.document)
    metadata = {**context, **item.document.metadata, **item.metadata}
    headers = [chunk_header(item.document, c, metadata) if chunking.context_headers else "" for c in chunks]
    return Planned(item, doc_id, version, chunks, ids, set(), [], set(), context, headers)


def _compare(plan: Planned, stored: dict[str, str]) -> None:
    """Fill in what is missing and what is stale, from the document's stored ``{point id: kind}``."""
    existing = {pid for pid, kind in stored.items() if kind == PointKind.CHUNK.value}
    plan.missing = [i for i, pid in enumerate(plan.point_ids) if pid not in existing]
    plan.stale_ids = existing - set(plan.point_ids)
    if plan.missing or plan.stale_ids:
        # A new version: synthetic items of the old one go with its chunks (older collections
        # kept them beside the chunks; they are cleared from there too).
        plan.stale_ids |= {pid for pid, kind in stored.items() if kind in _SYNTHETIC}
