"""Adapting a collection's embedder: pairs -> triples -> fine-tune -> fill a staging space -> gate -> switch.

The switch is one metadata write (:mod:`retrieval.spaces`): before it every search uses the old space,
after it the new one, and no search ever mixes the two. The base space (``dense``) is never touched; a
previously active adapted space stays until the next adaptation drops it, so that a process still
holding the old record finds it.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from adaptation.gate import GateReport, judge
from adaptation.mining import mine_triples, rank_base
from adaptation.pairs import (
    Passage,
    TrainingQuery,
    deduplicated,
    from_synthetic,
    read_passages,
    split_queries,
)
from adaptation.reembed import fill_space
from adaptation.train import StepFn, TrainReport, Triple, fine_tune
from kernel.adapt_settings import AdaptSettings
from kernel.errors import InvalidRequestError
from kernel.ids import sha256_text
from kernel.models import SearchMode
from kernel.payload import DENSE_VECTOR
from kernel.ports import Embedder, VectorStore
from kernel.tenancy import physical_name
from retrieval.search import Searcher
from retrieval.spaces import SPACE_KEY, CollectionSpaces, SpaceInfo, space_record

log = logging.getLogger(__name__)

#: Collection metadata key of the last adaptation's report.
REPORT_KEY = "adaptation"


class AdaptReport(BaseModel):
    """What one ``synthrag adapt`` did and decided."""

    collection: str
    version: str = Field(description="Hash of the base model, the training triples and the parameters.")
    space: str = Field(description="Named vector the adapted model fills.")
    model_path: str
    queries: dict[str, int] = Field(description="Training queries by origin (labelled, synthetic) and held apart.")
    triples: int
    hard_negatives: int
    train: TrainReport | None = None
    reembed_points: int = 0
    reembed_seconds: float = 0.0
    gate: GateReport | None = None
    active: bool = Field(description="Whether searches now use the adapted space.")
    reason: str
    finished_at: float = Field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class Progress:
    """Callbacks for a CLI: stage names with counts (the training steps, the re-embedded points)."""

    on_stage: Callable[[str, int], None] | None = None
    on_step: StepFn | None = None
    on_count: Callable[[int], None] | None = None


def model_dir(data_dir: Path, collection: str, version: str) -> Path:
    """Where a collection's adapted model of ``version`` is kept."""
    return data_dir / "models" / physical_name(collection) / version


class Adapter:
    """Runs adaptations of collections on one store with one base embedder."""

    def __init__(
        self,
        *,
        store: VectorStore,
        searcher: Searcher,
        spaces: CollectionSpaces,
        base_model: Path,
        data_dir: Path,
        params: AdaptSettings,
        threads: int,
        mode: SearchMode,
    ) -> None:
        self._store = store
        self._searcher = searcher
        self._spaces = spaces
        self._base_model = base_model
        self._data_dir = data_dir
        self._params = params
        self._threads = threads
        self._mode = mode

    @property
    def base(self) -> Embedder:
        return self._spaces.base

    def passages(self, collection: str) -> dict[str, Passage]:
        """Every chunk of the collection (NotFoundError when it does not exist)."""
        if not self._store.exists(collection):
            raise InvalidRequestError(f"collection '{collection}' does not exist; ingest documents first")
        return read_passages(self._store, collection)

    def adapt(
        self,
        collection: str,
        labelled: Sequence[TrainingQuery] = (),
        *,
        passages: dict[str, Passage] | None = None,
        progress: Progress | None = None,
    ) -> AdaptReport:
        """Adapt ``collection`` on ``labelled`` queries plus its synthetic ones; switch only past the gate."""
        progress = progress or Progress()
        stage = progress.on_stage or (lambda _name, _total: None)
        params = self._params
        passages = passages if passages is not None else self.passages(collection)
        synthetic = from_synthetic(self._store, collection, passages) if params.synthetic_pairs else []
        queries = deduplicated([*labelled, *synthetic])
        train, held = split_queries(queries, held_apart=params.held_apart, seed=params.seed)
        counts = {
            "labelled": sum(q.origin == "labelled" for q in queries),
            "synthetic": sum(q.origin == "synthetic" for q in queries),
            "held_apart": len(held),
        }
        stage("mining", len(train))

        def ranking(text: str) -> list[str]:
            return rank_base(self._searcher, collection, text, params.negative_depth)

        triples = mine_triples(train, passages, ranking=ranking, params=params, on_query=progress.on_count)
        if len(triples) < params.min_pairs:
            raise InvalidRequestError(
                f"collection '{collection}' has {len(triples)} training pairs; adaptation needs at least "
                f"{params.min_pairs} (SYNTHRAG_ADAPT__MIN_PAIRS): give labelled pairs or synthesize first"
            )
        version = self._version(triples)
        space = f"dense-{version[:12]}"
        out = model_dir(self._data_dir, collection, version)
        report = AdaptReport(
            collection=collection,
            version=version,
            space=space,
            model_path=str(out),
            queries=counts,
            triples=len(triples),
            hard_negatives=sum(t.negative is not None for t in triples),
            active=False,
            reason="",
        )
        record = space_record(self._store.get_metadata(collection))
        if record.active is not None and record.active.version == version:
            return self._finish(collection, report.model_copy(update={"active": True, "reason": "already active"}))
        # The new space must beat what searches use now: the base space, or an earlier adaptation's.
        current = record.active.name if record.active is not None else DENSE_VECTOR
        if not (out / "modules.json").is_file():
            stage("training", len(triples))
            trained = fine_tune(self._base_model, triples, out, params, threads=self._threads, on_step=progress.on_step)
            report = report.model_copy(update={"train": trained})
        info = SpaceInfo(name=space, model_path=str(out), version=version)
        stage("re-embedding", self._store.count(collection))
        points, seconds = self.stage_space(collection, info, on_count=progress.on_count)
        report = report.model_copy(update={"reembed_points": points, "reembed_seconds": seconds})
        try:
            stage("gate", len(held))
            gate = judge(
                self._searcher,
                collection,
                held,
                passages,
                space=space,
                baseline=current,
                mode=self._mode,
                confidence=params.confidence,
            )
        except BaseException:
            self._set_record(collection, staging=None)
            raise
        report = report.model_copy(update={"gate": gate, "reason": gate.reason})
        if not gate.passed:
            self._set_record(collection, staging=None)
            self._store.drop_dense_space(collection, space)
            shutil.rmtree(out, ignore_errors=True)
            return self._finish(collection, report)
        self.activate(collection, info)
        return self._finish(collection, report.model_copy(update={"active": True}))

    def stage_space(
        self, collection: str, info: SpaceInfo, *, on_count: Callable[[int], None] | None = None
    ) -> tuple[int, float]:
        """Add ``info``'s space as the staging one and fill it (searches keep the active space): (points, seconds).

        Ingests fill the staging space from the moment it is recorded; a last pass fills what they missed.
        """
        self._drop_leftovers(collection)
        self._store.add_dense_space(collection, info.name, dim=self.base.dim)
        self._set_record(collection, staging=info)
        try:
            embedder = self._spaces.embedder(info.name, self._spaces.record(collection, fresh=True))
            points, seconds = fill_space(self._store, collection, info.name, embedder, on_progress=on_count)
            more, extra = fill_space(self._store, collection, info.name, embedder, missing_only=True)
        except BaseException:
            self._set_record(collection, staging=None)
            raise
        return points + more, seconds + extra

    def activate(self, collection: str, info: SpaceInfo) -> None:
        """Switch searches to the filled staging space ``info`` (one metadata write)."""
        self._set_record(collection, staging=None, active=info)
        # Points an ingest wrote between the last pass and the switch without this space's vector.
        embedder = self._spaces.embedder(info.name, self._spaces.record(collection, fresh=True))
        fill_space(self._store, collection, info.name, embedder, missing_only=True)

    def revert(self, collection: str) -> bool:
        """Make the collection search the base space again; True if an adapted space was active."""
        record = space_record(self._store.get_metadata(collection))
        if record.active is None:
            return False
        self._set_record(collection, active=None)
        return True

    def _version(self, triples: Sequence[Triple]) -> str:
        data = [self.base.model_id, self._params.model_dump_json(), *(t.model_dump_json() for t in triples)]
        return sha256_text("\n".join(data))[:16]

    def _drop_leftovers(self, collection: str) -> None:
        """Adapted spaces no search uses any more (a retired active one, an interrupted staging one)."""
        record = space_record(self._store.get_metadata(collection))
        keep = {DENSE_VECTOR} | ({record.active.name} if record.active is not None else set())
        for name in self._store.dense_spaces(collection):
            if name not in keep:
                self._store.drop_dense_space(collection, name)

    _UNSET: Any = object()

    def _set_record(self, collection: str, *, staging: Any = _UNSET, active: Any = _UNSET) -> None:
        meta = self._store.get_metadata(collection)
        record = space_record(meta)
        update: dict[str, Any] = {}
        if staging is not Adapter._UNSET:
            update["staging"] = staging
        if active is not Adapter._UNSET:
            update["active"] = active
        record = record.model_copy(update=update)
        self._store.set_metadata(collection, {**meta, SPACE_KEY: record.model_dump(mode="json")})
        self._spaces.record(collection, fresh=True)  # this process sees the change at once

    def _finish(self, collection: str, report: AdaptReport) -> AdaptReport:
        meta = self._store.get_metadata(collection)
        self._store.set_metadata(collection, {**meta, REPORT_KEY: report.model_dump(mode="json")})
        log.info("adaptation of %s: %s", collection, report.reason)
        return report


def stored_report(metadata: dict[str, Any]) -> AdaptReport | None:
    """The last adaptation report recorded with a collection."""
    raw = metadata.get(REPORT_KEY)
    try:
        return AdaptReport.model_validate(raw) if isinstance(raw, dict) else None
    except ValueError:
        return None
