"""Per-document synthesis reports: every generated item, kept or dropped and why, and the counts."""

from __future__ import annotations

import json
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kernel.sqlite import Database
from knowledge.schemas import DocumentNotes

ItemKind = Literal["question", "query", "summary", "keywords", "document_summary", "entity", "date"]
DropReason = Literal["repetitive", "grounding", "duplicate", "roundtrip"]
DROP_REASONS: tuple[DropReason, ...] = ("repetitive", "grounding", "duplicate", "roundtrip")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SyntheticItem(_Model):
    """One generated item and what the filter decided."""

    kind: ItemKind
    text: str
    answer: str | None = Field(default=None, description="For questions: the answer the teacher gave.")
    chunk_index: int | None = Field(default=None, description="Chunk the item was generated from.")
    kept: bool
    reason: DropReason | None = Field(default=None, description="Why it was dropped.")
    detail: str | None = Field(default=None, description="The measurement behind the decision.")


class ChunkFailure(_Model):
    """A chunk whose generation failed after every attempt (its raw text stays indexed)."""

    chunk_index: int
    error: str


class SynthCounts(_Model):
    """How many items were generated, kept, and dropped by which filter stage."""

    chunks: int = 0
    chunks_failed: int = 0
    chunks_cached: int = 0
    generated: int = 0
    kept: int = 0
    dropped: dict[str, int] = Field(default_factory=lambda: {str(reason): 0 for reason in DROP_REASONS})
    completion_tokens: int = 0
    generation_seconds: float = 0.0

    def add(self, other: SynthCounts) -> None:
        """Accumulate another report's counts (batch totals)."""
        for name in ("chunks", "chunks_failed", "chunks_cached", "generated", "kept", "completion_tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.generation_seconds += other.generation_seconds
        for reason, n in other.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + n


class SyntheticReport(_Model):
    """What synthesis did for one document version."""

    document_id: str
    doc_version: str
    teacher: str
    prompt_version: str
    counts: SynthCounts
    document: DocumentNotes | None = None
    document_error: str | None = None
    items: list[SyntheticItem]
    failures: list[ChunkFailure] = Field(default_factory=list)
    created_at: float = Field(default_factory=time.time)


class ReportStore:
    """Reports in the synthesis database, one per (collection, document), tagged with what produced them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, collection: str, report: SyntheticReport, *, synth_key: str) -> None:
        """Store the report of a document's current version (replacing an older one)."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO synthetic_reports VALUES (?, ?, ?, ?, ?, ?)",
                (collection, report.document_id, report.doc_version, synth_key, report.model_dump_json(), time.time()),
            )

    def get(self, collection: str, document_id: str) -> SyntheticReport | None:
        """The report of a document, or None if it was never synthesized."""
        row = (
            self._db.read()
            .execute(
                "SELECT report FROM synthetic_reports WHERE collection = ? AND document_id = ?",
                (collection, document_id),
            )
            .fetchone()
        )
        return None if row is None else SyntheticReport.model_validate(json.loads(row["report"]))

    def is_current(self, collection: str, document_id: str, *, doc_version: str, synth_key: str) -> bool:
        """True if this document version was synthesized with this teacher, prompts and filter."""
        row = (
            self._db.read()
            .execute(
                "SELECT 1 FROM synthetic_reports WHERE collection = ? AND document_id = ? AND doc_version = ? "
                "AND synth_key = ?",
                (collection, document_id, doc_version, synth_key),
            )
            .fetchone()
        )
        return row is not None

    def delete(self, collection: str, document_id: str) -> None:
        """Forget a document's report (the document was deleted)."""
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM synthetic_reports WHERE collection = ? AND document_id = ?", (collection, document_id)
            )
