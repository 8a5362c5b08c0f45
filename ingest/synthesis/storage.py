"""Storage for the synthesis stage: kept items become points of the synthetic companion collection.

Every point carries its parent chunk's payload (filters and citations work on it) and lives in
``<collection>__synthetic``, never beside the chunks: the chunks' vectors, their BM25 statistics
and so chunk-only search stay exactly what they were before synthesis. Besides one point per kept
item, each chunk with kept questions or keywords gets one ``expansion`` point: their words joined,
the chunk's document expansion (docTTTTTquery style) as its own BM25 vector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kernel import payload as P
from kernel.ids import synthetic_point_id
from kernel.models import Chunk, PointKind, StoredPoint
from kernel.ports import Embedder, SparseEncoder, VectorStore
from kernel.tenancy import synthetic_collection
from knowledge.policy import Candidate

#: Counts documents of the given BM25 lengths in a collection; returns its new average length.
AddLengths = Callable[[str, Sequence[int]], float]
#: Item kinds whose words expand their chunk (a summary restates the chunk; questions and keywords add terms).
EXPANDING_KINDS: frozenset[PointKind] = frozenset({PointKind.QUESTION, PointKind.KEYWORDS, PointKind.QUERY})


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
    #: False for a partial synthesis (some chunks only): the document notes are not written then.
    document_notes: bool = True


@dataclass(frozen=True, slots=True)
class KeptItem:
    """A candidate the filter kept: the text to store and, for questions, the vector already computed."""

    candidate: Candidate
    text: str
    vector: list[float] | None = None


class SyntheticPoints:
    """Writes a document's synthetic points to the companion collection, replacing those of an earlier synthesis."""

    def __init__(
        self, *, store: VectorStore, embedder: Embedder, sparse: SparseEncoder, add_lengths: AddLengths
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._sparse = sparse
        self._add_lengths = add_lengths
        self._ready: set[str] = set()

    def write(self, collection: str, target: SynthTarget, kept: Sequence[KeptItem], metadata: dict[str, Any]) -> None:
        """Merge ``metadata`` into the document's chunks' payload and store ``kept`` (plus expansions) as its points.

        Points of the document's earlier synthesis that are not written again are deleted after the
        new ones are stored, so readers never see the document without synthetic items.
        """
        if metadata:
            # Payload only: filterable document notes; the chunks' vectors are never touched.
            self._store.set_payload(collection, list(target.point_ids), metadata, key=P.METADATA)
        companion = synthetic_collection(collection)
        if companion not in self._ready:
            self._store.ensure_collection(companion, dim=self._embedder.dim)
            self._ready.add(companion)
        rows = list(kept) + _expansions(kept)
        vectors = [item.vector for item in rows]
        need = [i for i, vector in enumerate(vectors) if vector is None]
        if need:
            for i, vector in zip(need, self._embedder.embed([rows[i].text for i in need]), strict=True):
                vectors[i] = vector
        # Answers are searchable words too: BM25 matches a query against question and answer.
        lexical = [f"{item.text} {item.candidate.answer}" if item.candidate.answer else item.text for item in rows]
        sparse: list[Any] = []
        if rows:
            average = self._add_lengths(companion, self._sparse.lengths(lexical))
            sparse = self._sparse.encode_documents(lexical, avg_len=average)
        points = []
        for item, dense, sp in zip(rows, vectors, sparse, strict=True):
            assert dense is not None  # every missing vector was embedded above
            payload = _payload(target, item, metadata)
            points.append(StoredPoint(id=_point_id(target, item), dense=dense, sparse=sp, payload=payload))
        existing = self._store.document_point_ids(companion, target.document_id)
        self._store.upsert(companion, points)
        stale = existing - {p.id for p in points}
        if stale:
            self._store.delete(companion, sorted(stale))


def _expansions(kept: Sequence[KeptItem]) -> list[KeptItem]:
    """One expansion per chunk: the words of its kept questions (with answers) and keywords."""
    words: dict[int, list[str]] = {}
    for item in kept:
        c = item.candidate
        if c.kind in EXPANDING_KINDS and c.scope is None:
            words.setdefault(c.chunk, []).append(f"{item.text} {c.answer}" if c.answer else item.text)
    return [
        KeptItem(Candidate(PointKind.EXPANSION, chunk, "\n".join(parts)), "\n".join(parts))
        for chunk, parts in sorted(words.items())
    ]


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
