"""Synthetic evidence for raw candidates, read from the collection's synthetic companion.

Two kinds of evidence, each an absolute similarity in [0, 1] per candidate chunk:

* **items**: the best cosine similarity between the query and one of the chunk's kept items
  (questions, summary, keywords...), by kind, so that each kind's effect can be measured;
* **expansion**: the BM25 score of the query against the chunk's expansion text (its kept
  questions, answers and keywords joined), squashed as ``s / (s + EXPANSION_HALF)``.

Only the candidates' own items are read (a filter on their chunk ids), so evidence can re-order
the raw candidates but never bring in another chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kernel import payload as P
from kernel.errors import NotFoundError
from kernel.models import (
    SYNTHETIC_KINDS,
    PointKind,
    ScoredPoint,
    SearchFilters,
    SearchMode,
    SparseVec,
    StoreQuery,
)
from kernel.ports import PointStore
from kernel.settings import Settings

#: Items read per candidate chunk (a chunk has a handful: questions, summary, keywords, queries).
ITEMS_PER_CHUNK = 12
#: BM25 score at which expansion evidence is one half (about one rare query term matched).
EXPANSION_HALF = 5.0
#: The item kinds that are evidence (the expansion point is its own signal).
ITEM_KINDS: tuple[PointKind, ...] = tuple(k for k in SYNTHETIC_KINDS if k is not PointKind.EXPANSION)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Per candidate chunk id: its best item similarity by kind, its expansion evidence, its best items."""

    items: dict[PointKind, dict[str, float]] = field(default_factory=dict)
    expansion: dict[str, float] = field(default_factory=dict)
    best_item: dict[PointKind, dict[str, ScoredPoint]] = field(default_factory=dict)

    def matched(self, chunk_id: str, kinds: Sequence[PointKind]) -> ScoredPoint | None:
        """The chunk's most similar item among ``kinds``, if it has one."""
        found = [self.best_item[k][chunk_id] for k in kinds if chunk_id in self.best_item.get(k, {})]
        return max(found, key=lambda p: p.score, default=None)

    def item_evidence(self, kinds: Sequence[PointKind]) -> dict[str, float]:
        """Per chunk, the best similarity over items of ``kinds``."""
        out: dict[str, float] = {}
        for kind in kinds:
            for chunk_id, value in self.items.get(kind, {}).items():
                out[chunk_id] = max(value, out.get(chunk_id, 0.0))
        return out


class EvidenceReader:
    """Reads a query's evidence for a set of candidate chunks from a companion collection."""

    def __init__(self, store: PointStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    def read(
        self,
        companion: str,
        chunk_ids: Sequence[str],
        *,
        dense: list[float] | None,
        sparse: SparseVec | None,
    ) -> Evidence:
        """Evidence of the candidates (item evidence needs ``dense``, expansion ``sparse``); empty when none stored."""
        if not chunk_ids:
            return Evidence()
        try:
            items = (
                self._query(companion, chunk_ids, ITEM_KINDS, SearchMode.DENSE, dense=dense, sparse=None)
                if dense
                else []
            )
            expansion = (
                self._query(companion, chunk_ids, [PointKind.EXPANSION], SearchMode.BM25, dense=None, sparse=sparse)
                if sparse is not None and sparse.indices
                else []
            )
        except NotFoundError:
            return Evidence()  # nothing was ever synthesized into this collection
        by_kind: dict[PointKind, dict[str, float]] = {}
        best: dict[PointKind, dict[str, ScoredPoint]] = {}
        for point in items:  # best first: the first item of a chunk and kind is its best
            parent = str(point.payload.get(P.CHUNK_ID, ""))
            try:
                kind = PointKind(str(point.payload.get(P.KIND, "")))
            except ValueError:
                continue
            per_kind = by_kind.setdefault(kind, {})
            if parent and parent not in per_kind:
                per_kind[parent] = max(0.0, min(1.0, point.score))
                best.setdefault(kind, {})[parent] = point
        expanded = {
            str(p.payload.get(P.CHUNK_ID, "")): max(0.0, p.score) / (max(0.0, p.score) + EXPANSION_HALF)
            for p in expansion
        }
        return Evidence(items=by_kind, expansion=expanded, best_item=best)

    def _query(
        self,
        companion: str,
        chunk_ids: Sequence[str],
        kinds: Sequence[PointKind],
        mode: SearchMode,
        *,
        dense: list[float] | None,
        sparse: SparseVec | None,
    ) -> list[ScoredPoint]:
        if (mode is SearchMode.DENSE and dense is None) or (
            mode is SearchMode.BM25 and not (sparse and sparse.indices)
        ):
            return []  # the caller did not ask for this evidence
        limit = min(len(chunk_ids) * (ITEMS_PER_CHUNK if mode is SearchMode.DENSE else 1), 10_000)
        query = StoreQuery(
            mode=mode,
            limit=limit,
            dense=dense,
            sparse=sparse,
            filters=SearchFilters(chunk_ids=list(chunk_ids), kinds=list(kinds)),
            prefetch_limit=max(self._settings.prefetch_limit, limit),
            rrf_k=self._settings.rrf_k,
            mmr_diversity=0.0,
            mmr_candidates=max(self._settings.mmr_candidates, limit),
        )
        return self._store.query(companion, query)
