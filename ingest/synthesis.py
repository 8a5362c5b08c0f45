"""Synthesis stage of ingest: teacher notes per chunk and document -> quality filter -> synthetic points.

Runs after a document's chunks are stored, so that the round-trip filter can search them. A chunk
whose generation fails keeps its raw text indexed; the failure is counted in the report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from kernel import payload as P
from kernel.ids import synthetic_point_id
from kernel.models import SYNTHETIC_KINDS, Chunk, PointKind, SearchFilters, SearchMode, StoredPoint, StoreQuery
from kernel.ports import Embedder, SparseEncoder, VectorStore
from kernel.settings import Settings
from knowledge.filter import grounding, near_duplicates, repetition, round_trip
from knowledge.generate import Generated, TeacherGenerator
from knowledge.reports import ChunkFailure, DropReason, ReportStore, SynthCounts, SyntheticItem, SyntheticReport
from knowledge.schemas import ChunkNotes, DocumentNotes

log = logging.getLogger(__name__)

#: Called with the number of chunks whose generation finished (for progress and job heartbeats).
ChunkDoneFn = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class FilterConfig:
    """The quality filter's switches and thresholds."""

    repetition_max: float = 0.5
    grounding: bool = True
    grounding_min: float = 0.6
    dedup: bool = True
    dedup_max_similarity: float = 0.9
    roundtrip: bool = True
    roundtrip_k: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> FilterConfig:
        """The filter the settings describe."""
        return cls(
            repetition_max=settings.synth.repetition_max,
            grounding=settings.synth.grounding,
            grounding_min=settings.synth.grounding_min,
            dedup=settings.synth.dedup,
            dedup_max_similarity=settings.synth.dedup_max_similarity,
            roundtrip=settings.synth.roundtrip,
            roundtrip_k=settings.synth.roundtrip_k,
        )

    @property
    def key(self) -> str:
        """Everything about the filter that changes what is kept."""
        return (
            f"rep={self.repetition_max}/g={self.grounding}:{self.grounding_min}/d={self.dedup}:{self.dedup_max_similarity}/"
            f"r={self.roundtrip}:{self.roundtrip_k}"
        )


@dataclass(frozen=True, slots=True)
class SynthTarget:
    """A stored document version to synthesize: its chunks, their point ids and payloads."""

    document_id: str
    version: str
    title: str
    text: str
    chunks: Sequence[Chunk]
    point_ids: Sequence[str]
    payloads: Sequence[dict[str, Any]]


@dataclass
class _Candidate:
    kind: PointKind
    chunk: int
    text: str
    answer: str | None = None
    scope: str | None = None
    keywords: list[str] = field(default_factory=list)
    item: SyntheticItem | None = None
    vector: list[float] | None = field(default=None, repr=False)


class SynthesisStage:
    """Generates, filters and stores the synthetic knowledge of documents."""

    def __init__(
        self,
        *,
        store: VectorStore,
        embedder: Embedder,
        sparse: SparseEncoder,
        generator: TeacherGenerator,
        reports: ReportStore,
        config: FilterConfig,
        concurrency: int = 1,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._sparse = sparse
        self._generator = generator
        self._reports = reports
        self._config = config
        self._concurrency = max(1, concurrency)

    @property
    def key(self) -> str:
        """Teacher, prompts, filter and embedder: a document synthesized under another key is redone."""
        return (
            f"{self._generator.model_id}|{self._generator.prompt_versions}|{self._config.key}|{self._embedder.model_id}"
        )

    @property
    def teacher(self) -> str:
        """The teacher's model id."""
        return self._generator.model_id

    def is_current(self, collection: str, document_id: str, version: str) -> bool:
        """True if this document version already has synthetic knowledge from this teacher and filter."""
        return self._reports.is_current(collection, document_id, doc_version=version, synth_key=self.key)

    def run(self, collection: str, target: SynthTarget, *, on_chunk: ChunkDoneFn | None = None) -> SyntheticReport:
        """Synthesize one document: generate (cached), filter, store points, save and return the report."""
        generated = self._generate_chunks(target, on_chunk)
        notes = [g.notes for g in generated]
        counts = SynthCounts(chunks=len(target.chunks))
        failures: list[ChunkFailure] = []
        for index, g in enumerate(generated):
            counts.completion_tokens += g.completion_tokens
            counts.generation_seconds += g.seconds
            counts.chunks_cached += int(g.cached)
            if g.notes is None:
                failures.append(ChunkFailure(chunk_index=index, error=g.error or "generation failed"))
        counts.chunks_failed = len(failures)

        doc_notes, doc_error = self._document_notes(target, notes, counts)
        candidates = _candidates(target, notes, doc_notes)
        self._filter_grounding(target, candidates)
        metadata, metadata_items = self._document_metadata(target, doc_notes)
        self._filter_questions(collection, target, candidates)

        kept = [c for c in candidates if c.item is not None and c.item.kept]
        items = [c.item for c in candidates if c.item is not None] + metadata_items
        counts.generated = len(items)
        counts.kept = sum(1 for item in items if item.kept)
        for item in items:
            if item.reason is not None:
                counts.dropped[item.reason] += 1
        self._store_points(collection, target, kept, metadata)
        report = SyntheticReport(
            document_id=target.document_id,
            doc_version=target.version,
            teacher=self._generator.model_id,
            prompt_version=self._generator.prompt_versions,
            counts=counts,
            document=doc_notes,
            document_error=doc_error,
            items=items,
            failures=failures,
        )
        self._reports.save(collection, report, synth_key=self.key)
        return report

    # -- generation -------------------------------------------------------------------------------

    def _generate_chunks(self, target: SynthTarget, on_chunk: ChunkDoneFn | None) -> list[Generated[ChunkNotes]]:
        done = 0
        lock = threading.Lock()

        def one(chunk: Chunk) -> Generated[ChunkNotes]:
            nonlocal done
            result = self._generator.chunk_notes(chunk.text)
            with lock:  # pool threads finish in any order; progress counts each once
                done += 1
                if on_chunk is not None:
                    on_chunk(done)
            return result

        if self._concurrency == 1 or len(target.chunks) == 1:
            return [one(chunk) for chunk in target.chunks]
        # A remote teacher: several requests in flight (the adapter bounds them process-wide too).
        with ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="synth") as pool:
            return list(pool.map(one, target.chunks))

    def _document_notes(
        self, target: SynthTarget, notes: Sequence[ChunkNotes | None], counts: SynthCounts
    ) -> tuple[DocumentNotes | None, str | None]:
        good = [n for n in notes if n is not None]
        if not good:
            return None, "no chunk notes to summarize"
        result = self._generator.document_notes(
            target.title, [n.summary for n in good], [k for n in good for k in n.keywords]
        )
        counts.completion_tokens += result.completion_tokens
        counts.generation_seconds += result.seconds
        return result.notes, result.error

    # -- filter -----------------------------------------------------------------------------------

    def _filter_grounding(self, target: SynthTarget, candidates: list[_Candidate]) -> None:
        cfg = self._config
        for c in candidates:
            source = target.text if c.scope == "document" else target.chunks[c.chunk].text
            kind = "document_summary" if c.scope == "document" else c.kind.value
            if c.kind is PointKind.KEYWORDS:
                # Each keyword on its own: the invented ones go, the grounded ones stay.
                scores = {k: grounding(k, source) for k in c.keywords}
                good = [k for k, v in scores.items() if not cfg.grounding or v >= cfg.grounding_min]
                bad = [k for k in c.keywords if k not in good]
                c.text = ", ".join(good) or ", ".join(c.keywords)
                ok, detail = bool(good), "not in the chunk: " + ", ".join(bad) if bad else "all in the chunk"
            else:
                claim = c.answer if c.kind is PointKind.QUESTION and c.answer is not None else c.text
                score = grounding(claim, source)
                ok = not cfg.grounding or score >= cfg.grounding_min
                detail = f"grounding {score:.2f} (min {cfg.grounding_min:.2f})"
            reason: DropReason | None = None if ok else "grounding"
            looped = max(repetition(c.text), repetition(c.answer or ""))
            if looped > cfg.repetition_max:
                reason, detail = "repetitive", f"{looped:.0%} repeated words (max {cfg.repetition_max:.0%})"
            c.item = SyntheticItem(
                kind=kind,
                text=c.text,
                answer=c.answer,
                chunk_index=c.chunk,
                kept=reason is None,
                reason=reason,
                detail=detail,
            )

    def _document_metadata(
        self, target: SynthTarget, doc_notes: DocumentNotes | None
    ) -> tuple[dict[str, Any], list[SyntheticItem]]:
        """Filterable metadata from the document notes; entities and dates must occur in the document."""
        if doc_notes is None:
            return {}, []
        cfg = self._config
        lowered = target.text.lower()
        checks: list[tuple[Literal["entity", "date"], str, bool, str]] = []
        for entity in doc_notes.entities:
            score = grounding(entity, target.text)
            checks.append(("entity", entity, score >= cfg.grounding_min, f"grounding {score:.2f}"))
        for date in doc_notes.dates:
            found = date.lower() in lowered
            checks.append(("date", date, found, "found in the document" if found else "not found verbatim"))
        items = [
            SyntheticItem(
                kind=kind,
                text=text,
                kept=ok or not cfg.grounding,
                reason=None if ok or not cfg.grounding else "grounding",
                detail=detail,
            )
            for kind, text, ok, detail in checks
        ]
        entities = [i.text for i in items if i.kind == "entity" and i.kept]
        dates = [i.text for i in items if i.kind == "date" and i.kept]
        metadata: dict[str, Any] = {"doc_type": doc_notes.type, "entities": entities, "dates": dates}
        if repetition(doc_notes.title) <= cfg.repetition_max:
            metadata["synthetic_title"] = doc_notes.title
        return metadata, items

    def _filter_questions(self, collection: str, target: SynthTarget, candidates: list[_Candidate]) -> None:
        questions = [c for c in candidates if c.kind is PointKind.QUESTION and c.item is not None and c.item.kept]
        if not questions:
            return
        vectors = self._embedder.embed([c.text for c in questions])
        for c, vector in zip(questions, vectors, strict=True):
            c.vector = vector
        cfg = self._config
        if cfg.dedup:
            twins = near_duplicates(vectors, max_similarity=cfg.dedup_max_similarity)
            for c, twin in zip(questions, twins, strict=True):
                if twin is not None and c.item is not None:
                    c.item = c.item.model_copy(
                        update={"kept": False, "reason": "duplicate", "detail": f"repeats: {questions[twin].text}"}
                    )
        if cfg.roundtrip:
            only_chunks = SearchFilters(kinds=[PointKind.CHUNK])
            for c in questions:
                if c.item is None or not c.item.kept or c.vector is None:
                    continue
                query = StoreQuery(
                    mode=SearchMode.HYBRID,
                    limit=cfg.roundtrip_k,
                    dense=c.vector,
                    sparse=self._sparse.encode_query(c.text),
                    filters=only_chunks,
                    prefetch_limit=max(50, cfg.roundtrip_k),
                    rrf_k=10,
                )
                ranked = [p.id for p in self._store.query(collection, query)]
                rank = round_trip(target.point_ids[c.chunk], ranked, k=cfg.roundtrip_k)
                if rank is None:
                    c.item = c.item.model_copy(
                        update={
                            "kept": False,
                            "reason": "roundtrip",
                            "detail": f"own chunk not in top {cfg.roundtrip_k}",
                        }
                    )
                else:
                    c.item = c.item.model_copy(update={"detail": f"{c.item.detail}; round-trip rank {rank}"})

    # -- storage ----------------------------------------------------------------------------------

    def _store_points(
        self, collection: str, target: SynthTarget, kept: list[_Candidate], metadata: dict[str, Any]
    ) -> None:
        if metadata:
            self._store.set_payload(collection, list(target.point_ids), metadata, key=P.METADATA)
        need = [c for c in kept if c.vector is None]
        for c, vector in zip(need, self._embedder.embed([c.text for c in need]) if need else [], strict=True):
            c.vector = vector
        meta = self._store.get_metadata(collection)
        docs = int(meta.get("bm25_docs", 0))
        avg_len = max(int(meta.get("bm25_total_len", 0)) / docs, 1.0) if docs else 256.0
        lexical = [f"{c.text} {c.answer}" if c.answer else c.text for c in kept]
        sparse = self._sparse.encode_documents(lexical, avg_len=avg_len) if kept else []
        points = []
        for c, sp in zip(kept, sparse, strict=True):
            base = target.payloads[c.chunk]
            parent = target.point_ids[c.chunk]
            payload = {
                **base,
                P.KIND: c.kind.value,
                P.TEXT: c.text,
                P.PARENT_TEXT: base[P.TEXT],
                P.CHUNK_ID: parent,
                P.METADATA: {**base.get(P.METADATA, {}), **metadata},
            }
            if c.answer is not None:
                payload[P.ANSWER] = c.answer
            if c.scope is not None:
                payload[P.SCOPE] = c.scope
            assert c.vector is not None
            pid = synthetic_point_id(parent_id=parent, kind=c.kind.value, text=c.text)
            points.append(StoredPoint(id=pid, dense=c.vector, sparse=sp, payload=payload))
        existing = self._store.document_point_ids(collection, target.document_id, kinds=SYNTHETIC_KINDS)
        self._store.upsert(collection, points)
        stale = existing - {p.id for p in points}
        if stale:
            self._store.delete(collection, sorted(stale))


def _candidates(
    target: SynthTarget, notes: Sequence[ChunkNotes | None], doc_notes: DocumentNotes | None
) -> list[_Candidate]:
    out: list[_Candidate] = []
    for index, note in enumerate(notes):
        if note is None:
            continue
        out += [_Candidate(PointKind.QUESTION, index, qa.question, answer=qa.answer) for qa in note.questions]
        out.append(_Candidate(PointKind.SUMMARY, index, note.summary))
        out.append(_Candidate(PointKind.KEYWORDS, index, ", ".join(note.keywords), keywords=list(note.keywords)))
    if doc_notes is not None and target.chunks:
        out.append(_Candidate(PointKind.SUMMARY, 0, doc_notes.summary, scope="document"))
    return out
