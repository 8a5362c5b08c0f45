"""The synthesis filter's policy as pure functions: which generated items are kept, which dropped, and why.

The measurements live in :mod:`knowledge.filter`; this module turns them into verdicts
(:class:`SyntheticItem` with ``kept``, ``reason`` and ``detail``) under the synthesis settings.
The orchestrator does the I/O around it: embedding the questions and searching for the round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kernel.models import PointKind
from kernel.settings import SynthSettings
from knowledge.filter import grounding, near_duplicates, repetition
from knowledge.reports import DropReason, ItemKind, SyntheticItem
from knowledge.schemas import ChunkNotes, DocumentNotes


@dataclass(frozen=True, slots=True)
class Candidate:
    """An item the teacher proposed, before the filter: what it says and which chunk it came from."""

    kind: PointKind
    chunk: int
    text: str
    answer: str | None = None
    scope: Literal["document"] | None = None
    keywords: tuple[str, ...] = ()

    @property
    def item_kind(self) -> ItemKind:
        """The kind a report lists it under (a document's summary is its own kind)."""
        if self.scope == "document":
            return "document_summary"
        if self.kind is PointKind.QUESTION:
            return "question"
        if self.kind is PointKind.QUERY:
            return "query"
        return "keywords" if self.kind is PointKind.KEYWORDS else "summary"


def filter_key(cfg: SynthSettings) -> str:
    """Everything about the filter that changes what is kept (part of the synthesis key of each report)."""
    return (
        f"rep={cfg.repetition_max}/g={cfg.grounding}:{cfg.grounding_min}/d={cfg.dedup}:{cfg.dedup_max_similarity}/"
        f"r={cfg.roundtrip}:{cfg.roundtrip_k}"
    )


def candidates(
    notes: Sequence[ChunkNotes | None], document: DocumentNotes | None, *, chunk_count: int
) -> list[Candidate]:
    """Every item the notes propose: each chunk's questions, queries, summary and keywords, then the document summary.

    Args:
        notes: Per chunk, its notes (None where generation failed).
        document: The document's notes, if any.
        chunk_count: Chunks of the document; the document summary hangs on chunk 0, so none without chunks.
    """
    out: list[Candidate] = []
    for index, note in enumerate(notes):
        if note is None:
            continue
        out += [Candidate(PointKind.QUESTION, index, qa.question, answer=qa.answer) for qa in note.questions]
        # A query or claim is judged like a question, but grounded on its own words (it has no answer).
        out += [Candidate(PointKind.QUERY, index, query) for query in note.queries]
        out.append(Candidate(PointKind.SUMMARY, index, note.summary))
        out.append(Candidate(PointKind.KEYWORDS, index, ", ".join(note.keywords), keywords=tuple(note.keywords)))
    if document is not None and chunk_count:
        out.append(Candidate(PointKind.SUMMARY, 0, document.summary, scope="document"))
    return out


def judge_candidate(candidate: Candidate, *, source: str, cfg: SynthSettings) -> SyntheticItem:
    """Grounding and repetition verdict on one candidate; the item's ``text`` is what would be stored.

    Args:
        candidate: The proposed item.
        source: The text it must be grounded in (its chunk, or the document for the document summary).
        cfg: The synthesis settings.

    Returns:
        The item, kept or dropped ("grounding", "repetitive"). Keywords are judged one by one: the
        invented ones leave the text, the item is dropped only when none is grounded.
    """
    text = candidate.text
    if candidate.kind is PointKind.KEYWORDS:
        scores = {k: grounding(k, source) for k in candidate.keywords}
        good = [k for k, v in scores.items() if not cfg.grounding or v >= cfg.grounding_min]
        bad = [k for k in candidate.keywords if k not in good]
        text = ", ".join(good) or ", ".join(candidate.keywords)
        ok, detail = bool(good), "not in the chunk: " + ", ".join(bad) if bad else "all in the chunk"
    else:
        # A question is grounded by its answer: the question itself may use words the chunk lacks.
        claim = candidate.answer if candidate.kind is PointKind.QUESTION and candidate.answer is not None else text
        score = grounding(claim, source)
        ok = not cfg.grounding or score >= cfg.grounding_min
        detail = f"grounding {score:.2f} (min {cfg.grounding_min:.2f})"
    reason: DropReason | None = None if ok else "grounding"
    looped = max(repetition(text), repetition(candidate.answer or ""))
    if looped > cfg.repetition_max:
        reason, detail = "repetitive", f"{looped:.0%} repeated words (max {cfg.repetition_max:.0%})"
    return SyntheticItem(
        kind=candidate.item_kind,
        text=text,
        answer=candidate.answer,
        chunk_index=candidate.chunk,
        kept=reason is None,
        reason=reason,
        detail=detail,
    )


def judge_metadata(
    document: DocumentNotes | None, *, text: str, cfg: SynthSettings
) -> tuple[dict[str, Any], list[SyntheticItem]]:
    """Filterable metadata from the document notes; entities and dates must occur in the document text.

    Returns:
        The metadata to merge into every point of the document (doc_type, the kept entities and dates,
        the synthetic title unless it loops) and one report item per entity and date.
    """
    if document is None:
        return {}, []
    lowered = text.lower()
    checks: list[tuple[Literal["entity", "date"], str, bool, str]] = []
    for entity in document.entities:
        score = grounding(entity, text)
        checks.append(("entity", entity, score >= cfg.grounding_min, f"grounding {score:.2f}"))
    for date in document.dates:
        found = date.lower() in lowered
        checks.append(("date", date, found, "found in the document" if found else "not found verbatim"))
    items = [
        SyntheticItem(
            kind=kind,
            text=value,
            kept=ok or not cfg.grounding,
            reason=None if ok or not cfg.grounding else "grounding",
            detail=detail,
        )
        for kind, value, ok, detail in checks
    ]
    entities = [i.text for i in items if i.kind == "entity" and i.kept]
    dates = [i.text for i in items if i.kind == "date" and i.kept]
    metadata: dict[str, Any] = {"doc_type": document.type, "entities": entities, "dates": dates}
    if repetition(document.title) <= cfg.repetition_max:
        metadata["synthetic_title"] = document.title
    return metadata, items


def mark_duplicates(
    items: Sequence[SyntheticItem], vectors: Sequence[Sequence[float]], *, max_similarity: float
) -> list[SyntheticItem]:
    """Drop each item whose vector nearly repeats an earlier one's (the first of a group stays).

    Args:
        items: Kept questions of one document, in order.
        vectors: Their L2-normalized embeddings, same order.
        max_similarity: Cosine similarity at which two questions are duplicates.
    """
    twins = near_duplicates(vectors, max_similarity=max_similarity)
    return [
        item
        if twin is None
        else item.model_copy(update={"kept": False, "reason": "duplicate", "detail": f"repeats: {items[twin].text}"})
        for item, twin in zip(items, twins, strict=True)
    ]


def judge_round_trip(item: SyntheticItem, rank: int | None, *, k: int) -> SyntheticItem:
    """Keep a question whose own chunk ranked within the top ``k`` for it (``rank``, 1-based), else drop it."""
    if rank is None:
        return item.model_copy(update={"kept": False, "reason": "roundtrip", "detail": f"own chunk not in top {k}"})
    return item.model_copy(update={"detail": f"{item.detail}; round-trip rank {rank}"})
