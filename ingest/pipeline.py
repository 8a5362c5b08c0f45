"""Ingest orchestrator: chunk, embed (dense + BM25) and store documents idempotently."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.bm25_stats import Bm25Stats
from ingest.context import ORGANISATION, PERIOD, indexed_text
from ingest.planning import Chunking, IngestItem, Planned, groups, item_document_id, plan_group
from ingest.synthesis import SynthesisStage, SynthTarget
from kernel import payload as P
from kernel.errors import InvalidRequestError, SynthragError
from kernel.ids import PIPELINE_VERSION, sha256_text
from kernel.models import PointKind, StoredPoint
from kernel.ports import CollectionAdmin, Embedder, PointStore, SparseEncoder
from kernel.tenancy import synthetic_collection
from knowledge.reports import SynthCounts
from retrieval.preference import CONTEXT_KEY, merge_context
from retrieval.spaces import CollectionSpaces

__all__ = ["IngestItem", "IngestOutcome", "Ingestor", "ProgressFn", "StageFn"]  # IngestItem: from ingest.planning

log = logging.getLogger(__name__)

Status = Literal["indexed", "unchanged", "failed"]


class IngestOutcome(BaseModel):
    """What happened to one document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    document_id: str | None = None
    status: Status
    chunks: int = 0
    error: str | None = None
    synthetic: SynthCounts | None = Field(default=None, description="Synthesis counts, when it ran.")


ProgressFn = Callable[[IngestOutcome], None]
#: Called as (stage, done, total) while a batch is embedded and stored.
StageFn = Callable[[str, int, int], None]
#: Chunks embedded per call, so progress and job heartbeats advance during big documents.
EMBED_STEP = 64


class Ingestor:
    """Turns documents into stored points; re-ingesting unchanged content writes nothing."""

    def __init__(
        self,
        *,
        store: PointStore,
        collections: CollectionAdmin,
        bm25: Bm25Stats,
        embedder: Embedder,
        sparse: SparseEncoder,
        chunk_max_tokens: int,
        chunk_overlap_tokens: int,
        batch_chunks: int = 256,
        synthesis: SynthesisStage | None = None,
        context_headers: bool = True,
        spaces: CollectionSpaces | None = None,
    ) -> None:
        """Args: store: where points go; collections: creates them and records the embedding model;
        bm25: the collections' BM25 length counters (shared with the synthesis stage);
        context_headers: index each chunk with its document's header (title, organisation, period);
        spaces: a collection's adapted dense spaces, which new chunks fill too (None: base space only)."""
        self._store = store
        self._spaces = spaces
        self._collections = collections
        self._bm25 = bm25
        self._embedder = embedder
        self._sparse = sparse
        self._max_tokens = min(chunk_max_tokens, embedder.max_tokens)
        self._overlap = chunk_overlap_tokens
        self._batch_chunks = batch_chunks
        self._context_headers = context_headers
        # Headers change what is indexed, so they are part of every point's identity.
        self._chunk_config = f"{self._max_tokens}/{self._overlap}" + ("/ctx2" if context_headers else "")
        self._synthesis = synthesis
        self._chunking = Chunking(
            count_tokens=embedder.count_tokens,
            model_id=embedder.model_id,
            max_tokens=self._max_tokens,
            overlap_tokens=self._overlap,
            chunk_config=self._chunk_config,
            context_headers=context_headers,
        )

    @property
    def synthesis(self) -> SynthesisStage | None:
        """The synthesis stage, when a teacher is configured."""
        return self._synthesis

    @property
    def config_key(self) -> str:
        """Everything about this ingestor that shapes the stored points (model and chunking)."""
        return f"{self._embedder.model_id}:{self._chunk_config}:{PIPELINE_VERSION}"

    def prepare(self, collection: str) -> None:
        """Create the collection if needed and refuse one built with another embedding model."""
        self._collections.ensure_collection(collection, dim=self._embedder.dim)
        meta = self._collections.get_metadata(collection)
        if not meta.get("embed_model"):
            # A new collection: recording the model claims it, and its BM25 counts restart from zero.
            if self._bm25.start(collection, lambda: self._claim(collection)):
                return
            meta = self._collections.get_metadata(collection)  # another ingestor claimed it meanwhile
        built_with = meta.get("embed_model")
        if built_with != self._embedder.model_id:
            raise InvalidRequestError(
                f"collection '{collection}' was built with embedding model {built_with}, but the service "
                f"runs {self._embedder.model_id}; ingest into a new collection or re-create this one"
            )
        self._bm25.migrate(collection, meta)

    def _claim(self, collection: str) -> bool:
        """Record the embedding model of a collection nobody has claimed yet; False if one has."""
        meta = self._collections.get_metadata(collection)
        if meta.get("embed_model"):
            return False
        self._collections.set_metadata(collection, {**meta, "embed_model": self._embedder.model_id})
        return True

    def ingest(
        self,
        items: Iterable[IngestItem],
        *,
        collection: str,
        on_progress: ProgressFn | None = None,
        on_stage: StageFn | None = None,
        raise_errors: bool = False,
        synthesize: bool = True,
        only_chunks: Collection[str] | None = None,
    ) -> list[IngestOutcome]:
        """Ingest documents, batching embedding across documents; returns one outcome each.

        Chunks of every document are stored first (searchable at once); then, with a synthesis
        stage and ``synthesize``, each document without current synthetic knowledge is synthesized.
        ``only_chunks`` (point ids) restricts synthesis to those chunks, without document notes,
        whether or not the documents were synthesized before (the eval's top-N synthesis).
        With ``raise_errors`` a failure raises its SynthragError (job workers decide on retries)
        instead of becoming a ``failed`` outcome.
        """
        self.prepare(collection)
        outcomes: list[IngestOutcome] = []
        pending: list[Planned] = []
        planned: dict[str, Planned] = {}

        def report(outcome: IngestOutcome) -> None:
            outcomes.append(outcome)
            if on_progress is not None:
                on_progress(outcome)

        for group in groups(items, collection):
            if {item_document_id(item, collection) for item in group} & {p.document_id for p in pending}:
                # A document again: its earlier version is written before the new one is planned.
                for outcome in self._flush(pending, collection, on_stage, raise_errors):
                    report(outcome)
                pending = []
            for item, plan in zip(group, plan_group(self._store, self._chunking, group, collection), strict=True):
                if isinstance(plan, SynthragError):
                    if raise_errors:
                        raise plan
                    report(IngestOutcome(source=item.document.source, status="failed", error=plan.message))
                    continue
                planned[plan.document_id] = plan
                if not plan.missing and not plan.stale_ids:
                    report(_outcome(plan, "unchanged"))
                    continue
                pending.append(plan)
                if sum(len(p.missing) for p in pending) >= self._batch_chunks:
                    for outcome in self._flush(pending, collection, on_stage, raise_errors):
                        report(outcome)
                    pending = []
        for outcome in self._flush(pending, collection, on_stage, raise_errors):
            report(outcome)
        if self._synthesis is not None and synthesize:
            outcomes = self._synthesize(
                self._synthesis,
                outcomes,
                planned=planned,
                collection=collection,
                on_stage=on_stage,
                raise_errors=raise_errors,
                only_chunks=only_chunks,
            )
        return outcomes

    def _synthesize(
        self,
        stage: SynthesisStage,
        outcomes: list[IngestOutcome],
        *,
        planned: dict[str, Planned],
        collection: str,
        on_stage: StageFn | None,
        raise_errors: bool,
        only_chunks: Collection[str] | None = None,
    ) -> list[IngestOutcome]:
        """Run the synthesis stage over stored documents that lack current synthetic knowledge."""
        todo = [
            planned[o.document_id]
            for o in outcomes
            if o.status != "failed"
            and o.document_id in planned
            and (only_chunks is not None or not _current(stage, collection, planned[o.document_id]))
        ]
        if only_chunks is not None:
            todo = [p for p in (_restricted(plan, only_chunks) for plan in todo) if p.chunks]
        total = sum(len(plan.chunks) for plan in todo)
        done = 0
        stage_fn = on_stage or (lambda _stage, _done, _total: None)
        results: dict[str, SynthCounts] = {}
        if len(todo) > 1:
            # Generation first, batched across documents (cached); each document below then only filters and stores.
            texts = [chunk.text for plan in todo for chunk in plan.chunks]
            try:
                owners = [plan.document_id for plan in todo for _chunk in plan.chunks]
                stage.warm(collection, texts, on_chunk=_progress(stage_fn, 0, total), owners=owners)
            except SynthragError as exc:
                if raise_errors:
                    raise
                log.error("batched generation failed, going on document by document: %s", exc.message)
        for plan in todo:
            stage_fn("synthesis", done, total)
            now = time.time()
            target = SynthTarget(
                document_id=plan.document_id,
                version=plan.version,
                title=plan.item.document.title,
                text=plan.item.document.text,
                chunks=plan.chunks,
                point_ids=plan.point_ids,
                payloads=[_payload(plan, i, now) for i in range(len(plan.chunks))],
                document_notes=only_chunks is None,
            )
            offset = done
            try:
                report = stage.run(collection, target, on_chunk=_progress(stage_fn, offset, total))
            except SynthragError as exc:
                if raise_errors:
                    raise
                log.error("synthesis of %s failed: %s", plan.document_id, exc.message)
                results[plan.document_id] = SynthCounts(chunks=len(plan.chunks), chunks_failed=len(plan.chunks))
            else:
                results[plan.document_id] = report.counts
            done += len(plan.chunks)
        if todo:
            stage_fn("synthesis", total, total)
        return [
            o.model_copy(update={"synthetic": results[o.document_id]}) if o.document_id in results else o
            for o in outcomes
        ]

    def _record_context(self, collection: str, plans: list[Planned]) -> None:
        """Add these documents' periods and organisations to the collection's list (queries match against it)."""
        periods, organisations = _context_values(plans, PERIOD), _context_values(plans, ORGANISATION)
        if not periods and not organisations:
            return
        meta = self._collections.get_metadata(collection)
        merged = merge_context(meta.get(CONTEXT_KEY), periods, organisations)
        if merged != meta.get(CONTEXT_KEY):
            self._collections.set_metadata(collection, {**meta, CONTEXT_KEY: merged})

    def _flush(
        self, plans: list[Planned], collection: str, on_stage: StageFn | None, raise_errors: bool
    ) -> list[IngestOutcome]:
        if not plans:
            return []
        work = [(plan, i) for plan in plans for i in plan.missing]
        texts = [indexed_text(plan.headers[i], plan.chunks[i].text) for plan, i in work]
        stage = on_stage or (lambda _stage, _done, _total: None)
        try:
            dense = self._embed_in_steps(texts, stage)
            adapted = self._adapted_vectors(collection, texts)
            stage("storing", len(texts), len(texts))
            avg_len = self._bm25.add(collection, self._sparse.lengths(texts))
            sparse = self._sparse.encode_documents(texts, avg_len=avg_len)
            now = time.time()
            points = [
                StoredPoint(
                    id=plan.point_ids[i],
                    dense=d,
                    sparse=s,
                    payload=_payload(plan, i, now),
                    extra_dense={space: vectors[n] for space, vectors in adapted.items()},
                )
                for n, ((plan, i), d, s) in enumerate(zip(work, dense, sparse, strict=True))
            ]
            # New points first, stale ones after: readers never see a document vanish mid-update.
            self._store.upsert(collection, points)
            stale = [pid for plan in plans for pid in plan.stale_ids]
            if stale:
                self._store.delete(collection, stale)
            stale_synthetic = [pid for plan in plans for pid in plan.stale_synthetic]
            if stale_synthetic:
                self._store.delete(synthetic_collection(collection), stale_synthetic)
            self._record_context(collection, plans)
        except SynthragError as exc:
            if raise_errors:
                raise
            log.error("ingest batch failed: %s", exc.message)
            return [_outcome(plan, "failed", error=exc.message) for plan in plans]
        return [_outcome(plan, "indexed") for plan in plans]

    def _embed_in_steps(self, texts: list[str], stage: StageFn) -> list[list[float]]:
        """Vectors of ``texts`` in calls of EMBED_STEP (progress between them), shortest texts first: a
        call pads its texts to its longest, so calls of like lengths waste no compute on padding (raw
        ``encode`` sorts a whole call the same way; unsorted 64-text calls kept 0.88x of its speed)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), EMBED_STEP):
            stage("embedding", start, len(texts))
            step = order[start : start + EMBED_STEP]
            for i, vector in zip(step, self._embedder.embed([texts[i] for i in step]), strict=True):
                vectors[i] = vector
        return vectors

    def _adapted_vectors(self, collection: str, texts: list[str]) -> dict[str, list[list[float]]]:
        """The texts' vectors in each adapted space of the collection (active and staging), by space."""
        if self._spaces is None or not texts:
            return {}
        return {space: embedder.embed(texts) for space, embedder in self._spaces.for_writes(collection)}


def _context_values(plans: list[Planned], key: str) -> set[str]:
    values = ({**plan.context, **plan.item.document.metadata, **plan.item.metadata}.get(key) for plan in plans)
    return {v for v in values if isinstance(v, str) and v}


def _current(stage: SynthesisStage, collection: str, plan: Planned) -> bool:
    return stage.is_current(collection, plan.document_id, plan.version)


def _restricted(plan: Planned, only: Collection[str]) -> Planned:
    """The plan with only the chunks whose point ids are in ``only``."""
    keep = [i for i, pid in enumerate(plan.point_ids) if pid in only]
    return replace(plan, chunks=[plan.chunks[i] for i in keep], point_ids=[plan.point_ids[i] for i in keep])


def _progress(stage_fn: StageFn, offset: int, total: int) -> Callable[[int], None]:
    def on_chunk(done: int) -> None:
        stage_fn("synthesis", offset + done, total)

    return on_chunk


def _outcome(plan: Planned, status: Status, error: str | None = None) -> IngestOutcome:
    return IngestOutcome(
        source=plan.item.document.source,
        document_id=plan.document_id,
        status=status,
        chunks=len(plan.chunks),
        error=error,
    )


def _payload(plan: Planned, index: int, ingested_at: float) -> dict[str, Any]:
    chunk = plan.chunks[index]
    doc = plan.item.document
    return {
        P.DOCUMENT_ID: plan.document_id,
        P.CHUNK_ID: plan.point_ids[index],
        P.KIND: PointKind.CHUNK.value,
        P.TAGS: list(plan.item.tags),
        P.SOURCE: doc.source,
        P.TITLE: doc.title,
        P.TEXT: chunk.text,
        P.CHUNK_INDEX: chunk.index,
        P.PAGE: chunk.page,
        P.HEADING: chunk.heading,
        P.START: chunk.start,
        P.END: chunk.end,
        P.CONTENT_HASH: sha256_text(chunk.text),
        P.METADATA: {**plan.context, **doc.metadata, **plan.item.metadata, "format": doc.format},
        P.CONTEXT: plan.headers[index],
        P.DOC_VERSION: plan.version,
        P.INGESTED_AT: ingested_at,
    }
