"""Store fixtures: every VectorStore adapter, plus a tiny hand-made corpus (8-d vectors, real BM25)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient

from kernel import payload as fields
from kernel.models import PointKind, SearchMode, StoredPoint, StoreQuery
from kernel.ports import VectorStore
from kernel.settings import Settings
from retrieval.sparse import Bm25Encoder
from retrieval.stores.client import ClientStore
from retrieval.stores.edge import EdgeStore

DIM = 8
COLLECTION = "contract"


def unit(*pairs: tuple[int, float]) -> list[float]:
    """An 8-d unit vector with the given (axis, weight) components."""
    vec = [0.0] * DIM
    for axis, weight in pairs:
        vec[axis] = weight
    norm = sum(v * v for v in vec) ** 0.5
    return [v / norm for v in vec]


def pid(key: str) -> str:
    """Deterministic point id (a UUID string, as the stores require)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"synthrag-test/{key}"))


@dataclass(frozen=True)
class Doc:
    """One test point before encoding."""

    key: str
    text: str
    dense: list[float]
    document_id: str
    tags: tuple[str, ...] = ()
    kind: PointKind = PointKind.CHUNK


#: Four points on orthogonal axes, so each dense query has one obvious best hit.
CORPUS = (
    Doc("alpha", "Apples and oranges grow in orchards", unit((0, 1.0)), "doc-a", ("fruit", "red")),
    Doc("beta", "Bananas ripen in tropical sunshine", unit((1, 1.0)), "doc-a", ("fruit",)),
    Doc("gamma", "Cherries need cold winters", unit((2, 1.0)), "doc-b", ("red",)),
    Doc("delta", "Dates grow on palm trees in deserts", unit((3, 1.0)), "doc-b", (), PointKind.QUESTION),
)


#: The fusion parameters StoreQuery requires, at the settings' defaults (their one source).
FUSION_DEFAULTS: dict[str, Any] = {
    name: Settings.model_fields[name].default for name in ("prefetch_limit", "rrf_k", "mmr_diversity", "mmr_candidates")
}


def store_query(mode: SearchMode, *, limit: int = 10, **params: Any) -> StoreQuery:
    """A StoreQuery with the settings' default fusion parameters, unless ``params`` sets them."""
    return StoreQuery(mode=mode, limit=limit, **{**FUSION_DEFAULTS, **params})


def encode(encoder: Bm25Encoder, docs: Sequence[Doc]) -> list[StoredPoint]:
    """Turn test docs into stored points with real BM25 sparse vectors."""
    lengths = encoder.lengths([d.text for d in docs])
    avg_len = max(1.0, sum(lengths) / len(lengths))
    sparse = encoder.encode_documents([d.text for d in docs], avg_len=avg_len)
    return [
        StoredPoint(
            id=pid(d.key),
            dense=d.dense,
            sparse=vec,
            payload={
                fields.DOCUMENT_ID: d.document_id,
                fields.TAGS: list(d.tags),
                fields.KIND: d.kind.value,
                fields.TEXT: d.text,
                fields.CHUNK_ID: d.key,
            },
        )
        for d, vec in zip(docs, sparse, strict=True)
    ]


@pytest.fixture(scope="session")
def encoder() -> Bm25Encoder:
    """The real BM25 encoder (fast, deterministic)."""
    return Bm25Encoder()


def _make_store(kind: str, root: Path) -> VectorStore:
    if kind == "edge":
        return EdgeStore(root / "edge")
    return ClientStore(QdrantClient(":memory:"))


@pytest.fixture(params=["edge", "client"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    """An empty store of each adapter kind."""
    made = _make_store(request.param, tmp_path)
    yield made
    made.close()


@pytest.fixture
def loaded(store: VectorStore, encoder: Bm25Encoder) -> VectorStore:
    """A store holding CORPUS in COLLECTION."""
    store.ensure_collection(COLLECTION, dim=DIM)
    store.upsert(COLLECTION, encode(encoder, CORPUS))
    return store
