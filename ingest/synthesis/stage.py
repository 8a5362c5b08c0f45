"""Synthesis stage of ingest: teacher notes per chunk and document -> quality filter -> synthetic points.

Runs after a document's chunks are stored, so that the round-trip filter can search them. A chunk
whose generation fails keeps its raw text indexed; the failure is counted in the report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from ingest.synthesis.generation import ChunkDoneFn, generate_chunk_notes, generate_document_notes
from ingest.synthesis.storage import AddLengths, KeptItem, SyntheticPoints, SynthTarget
from kernel.models import PointKind
from kernel.ports import Embedder, SparseEncoder, VectorStore
from kernel.settings import SynthSettings
from kernel.tenancy import tenant_of
from knowledge.filter import round_trip
from knowledge.generate import TeacherGenerator
from knowledge.policy import (
    Candidate,
    candidates,
    filter_key,
    judge_candidate,
    judge_metadata,
    judge_round_trip,
    mark_duplicates,
)
from knowledge.profile import CHUNK_ITEM_KINDS, METADATA_KEY, TeacherProfile, profile_for, stored_profile
from knowledge.reports import ChunkFailure, ReportStore, SynthCounts, SyntheticItem, SyntheticReport

log = logging.getLogger(__name__)

#: Kinds that stand in for a user's search: deduplicated and round-tripped.
_ASKED = (PointKind.QUESTION, PointKind.QUERY)


class ChunkSearch(Protocol):
    """Ranks a collection's chunks (chunks only) for a question, as the round-trip filter needs."""

    def __call__(self, collection: str, question: str, vector: list[float], k: int) -> list[str]:
        """Point ids of the ``k`` best chunks for ``question`` (its dense ``vector`` given), best first."""
        ...


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
        settings: SynthSettings,
        search: ChunkSearch,
        add_lengths: AddLengths,
        concurrency: int = 1,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._generator = generator
        self._reports = reports
        self._settings = settings
        self._search = search
        self._points = SyntheticPoints(store=store, embedder=embedder, sparse=sparse, add_lengths=add_lengths)
        self._concurrency = max(1, concurrency)

    @property
    def key(self) -> str:
        """Teacher, prompts, filter and embedder: a document synthesized under another key is redone."""
        return (
            f"{self._generator.model_id}|{self._generator.prompt_versions}|{filter_key(self._settings)}|"
            f"{self._embedder.model_id}|items={self._settings.generate}"
        )

    @property
    def teacher(self) -> str:
        """The teacher's model id."""
        return self._generator.model_id

    def is_current(self, collection: str, document_id: str, version: str) -> bool:
        """True if this document version already has synthetic knowledge from this teacher and filter."""
        key = self.key + self._kinds_key(collection)
        return self._reports.is_current(collection, document_id, doc_version=version, synth_key=key)

    def profile(self, collection: str) -> TeacherProfile:
        """The collection's teacher profile: the one stored with it, else this teacher's bundled or default one."""
        stored = stored_profile(self._store.get_metadata(collection))
        if stored is not None and stored.teacher in self.teacher:
            return stored
        return profile_for(self.teacher, path=self._settings.profile)

    def item_kinds(self, collection: str) -> tuple[PointKind, ...]:
        """Chunk item kinds to generate: all (``generate=all``), else those the profile's search uses (maybe none)."""
        profile = self.profile(collection)
        if self._settings.generate == "all":
            return tuple(CHUNK_ITEM_KINDS)
        return tuple(profile.item_kinds) if profile.uses_items else ()

    def _kinds_key(self, collection: str) -> str:
        return "|kinds=" + ",".join(k.value for k in self.item_kinds(collection))

    def _record_profile(self, collection: str) -> None:
        """Store the profile with the collection the first time this teacher synthesizes into it."""
        metadata = self._store.get_metadata(collection)
        stored = stored_profile(metadata)
        if stored is None or stored.teacher not in self.teacher:
            profile = profile_for(self.teacher, path=self._settings.profile)
            self._store.set_metadata(collection, {**metadata, METADATA_KEY: profile.model_dump(mode="json")})

    def warm(
        self,
        collection: str,
        chunks: Sequence[str],
        *,
        on_chunk: ChunkDoneFn | None = None,
        owners: Sequence[str] | None = None,
    ) -> None:
        """Generate (into the cache) the notes of many documents' chunks at once, before :meth:`run` per document.

        A local teacher decodes chunks in batches of ``batch_size``; across documents the batches stay
        full even when each document has one or two chunks to synthesize. Nothing happens when no
        chunk items are generated for this collection, or for a remote teacher (it runs concurrent calls).
        ``owners``: the document id of each chunk, recorded with its cache entry.
        """
        if self._concurrency > 1 or not self.item_kinds(collection):
            return
        self._generator.chunk_notes_many(list(chunks), on_done=on_chunk, scope=tenant_of(collection), owners=owners)

    def run(self, collection: str, target: SynthTarget, *, on_chunk: ChunkDoneFn | None = None) -> SyntheticReport:
        """Synthesize one document: generate (cached), filter, store points, save and return the report.

        Chunk notes are generated only when some search uses them (:meth:`item_kinds`); the
        document notes (title, summary, metadata users filter on) always are.
        """
        self._record_profile(collection)
        kinds = self.item_kinds(collection)
        # The cache is the tenant's own: a hit (and its zero seconds in the report) says nothing of other tenants.
        scope = tenant_of(collection)
        if kinds:
            generated = generate_chunk_notes(
                self._generator,
                target.chunks,
                concurrency=self._concurrency,
                on_chunk=on_chunk,
                scope=scope,
                owner=target.document_id,
            )
        else:
            generated = []
            if on_chunk is not None:
                on_chunk(len(target.chunks))
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

        document = (
            generate_document_notes(
                self._generator, target.title, notes, text=target.text, scope=scope, owner=target.document_id
            )
            if target.document_notes
            else None
        )
        if document is not None:
            counts.completion_tokens += document.completion_tokens
            counts.generation_seconds += document.seconds
        doc_notes = document.notes if document is not None else None
        doc_error = document.error if document is not None else "no document notes asked or nothing to summarize"

        cfg = self._settings
        found = [
            c
            for c in candidates(notes, doc_notes, chunk_count=len(target.chunks))
            if c.scope == "document" or c.kind in kinds
        ]
        verdicts = [judge_candidate(c, source=_source(target, c), cfg=cfg) for c in found]
        metadata, metadata_items = judge_metadata(doc_notes, text=target.text, cfg=cfg)
        vectors = self._check_questions(collection, target, found, verdicts)

        kept = [
            KeptItem(c, item.text, vectors.get(i))
            for i, (c, item) in enumerate(zip(found, verdicts, strict=True))
            if item.kept
        ]
        items = verdicts + metadata_items
        counts.generated = len(items)
        counts.kept = sum(1 for item in items if item.kept)
        for item in items:
            if item.reason is not None:
                counts.dropped[item.reason] += 1
        self._points.write(collection, target, kept, metadata)
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
        self._reports.save(collection, report, synth_key=self.key + self._kinds_key(collection))
        return report

    def _check_questions(
        self, collection: str, target: SynthTarget, found: Sequence[Candidate], verdicts: list[SyntheticItem]
    ) -> dict[int, list[float]]:
        """Dedup and round-trip the questions and queries still kept (updating ``verdicts``); their vectors by index."""
        asked = [i for i, c in enumerate(found) if c.kind in _ASKED and verdicts[i].kept]
        if not asked:
            return {}
        vectors = dict(zip(asked, self._embedder.embed([found[i].text for i in asked]), strict=True))
        cfg = self._settings
        if cfg.dedup:
            marked = mark_duplicates(
                [verdicts[i] for i in asked], [vectors[i] for i in asked], max_similarity=cfg.dedup_max_similarity
            )
            for i, item in zip(asked, marked, strict=True):
                verdicts[i] = item
        if cfg.roundtrip:
            for i in asked:
                if not verdicts[i].kept:
                    continue
                c = found[i]
                ranked = self._search(collection, c.text, vectors[i], cfg.roundtrip_k)
                rank = round_trip(target.point_ids[c.chunk], ranked, k=cfg.roundtrip_k)
                verdicts[i] = judge_round_trip(verdicts[i], rank, k=cfg.roundtrip_k)
        return vectors


def _source(target: SynthTarget, candidate: Candidate) -> str:
    """The text a candidate must be grounded in: the document for its summary, else its chunk."""
    return target.text if candidate.scope == "document" else target.chunks[candidate.chunk].text
