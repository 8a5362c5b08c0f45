"""Storage for the synthesis stage: kept items become points that carry their parent chunk's payload."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kernel import payload as P
from kernel.ids import synthetic_point_id
from kernel.models import SYNTHETIC_KINDS, Chunk, StoredPoint
from kernel.ports import Embedder, PointStore, SparseEncoder
from knowledge.policy import Candidate

#: The average BM25 document length of a collection (the BM25 encoder saturates term counts by it).
AverageLength = Callable[[str], float]


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


@dataclass(frozen=True, slots=True)
class KeptItem:
    """A candidate the filter kept: the text to store and, for questions, the vector already computed."""

    candidate: Candidate
    text: str
    vector: list[float] | None = None


class SyntheticPoints:
    """Writes a document's synthetic points and metadata, replacing those of an earlier synthesis."""

    def __init__(
        self, *, store: PointStore, embedder: Embedder, sparse: SparseEncoder, average_length: AverageLength
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._sparse = sparse
        self._average_length = average_length

    def write(self, collection: str, target: SynthTarget, kept: Sequence[KeptItem], metadata: dict[str, Any]) -> None:
        """Merge ``metadata`` into the document's chunks and store ``kept`` as its synthetic points.

        Points of the document's earlier synthesis that are not written again are deleted after the
        new ones are stored, so readers never see the document without synthetic items.
        """
        if metadata:
            self._store.set_payload(collection, list(target.point_ids), metadata, key=P.METADATA)
        vectors = [item.vector for item in kept]
        need = [i for i, vector in enumerate(vectors) if vector is None]
        if need:
            for i, vector in zip(need, self._embedder.embed([kept[i].text for i in need]), strict=True):
                vectors[i] = vector
        # Answers are searchable words too: BM25 matches a query against question and answer.
        lexical = [f"{item.text} {item.candidate.answer}" if item.candidate.answer else item.text for item in kept]
        sparse = self._sparse.encode_documents(lexical, avg_len=self._average_length(collection)) if kept else []
        points = []
        for item, dense, sp in zip(kept, vectors, sparse, strict=True):
            assert dense is not None  # every missing vector was embedded above
            payload = _payload(target, item, metadata)
            points.append(StoredPoint(id=_point_id(target, item), dense=dense, sparse=sp, payload=payload))
        existing = self._store.document_point_ids(collection, target.document_id, kinds=SYNTHETIC_KINDS)
        self._store.upsert(collection, points)
        stale = existing - {p.id for p in points}
        if stale:
            self._store.delete(collection, sorted(stale))


def _point_id(target: SynthTarget, item: KeptItem) -> str:
    parent = target.point_ids[item.candidate.chunk]
    return synthetic_point_id(parent_id=parent, kind=item.candidate.kind.value, text=item.text)


def _payload(target: SynthTarget, item: KeptItem, metadata: dict[str, Any]) -> dict[str, Any]:
    """The parent chunk's payload (so filters and citations work on the item), with the item's own fields."""
    c = item.candidate
    base = target.payloads[c.chunk]
    payload = {
        **base,
        P.KIND: c.kind.value,
        P.TEXT: item.text,
        P.PARENT_TEXT: base[P.TEXT],
        P.CHUNK_ID: target.point_ids[c.chunk],
        P.METADATA: {**base.get(P.METADATA, {}), **metadata},
    }
    if c.answer is not None:
        payload[P.ANSWER] = c.answer
    if c.scope is not None:
        payload[P.SCOPE] = c.scope
    return payload
