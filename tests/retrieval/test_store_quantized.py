"""Collections created with int8 quantization and on-disk originals (both adapters) return what plain
float32 collections return: the quantized copy picks candidates, the originals rescore them."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from kernel import payload as fields
from kernel.models import SearchMode, SparseVec, StoredPoint, VectorLayout
from kernel.ports import VectorStore
from kernel.settings import Settings
from retrieval.stores import create_store
from retrieval.stores.client import ClientStore
from retrieval.stores.edge import EdgeStore
from tests.retrieval.conftest import store_query

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant:UserWarning")

DIM = 32
N = 1500
QUANTIZED = VectorLayout(quantization="int8", on_disk=True, oversampling=3.0)


def _unit(rng: random.Random) -> list[float]:
    v = [rng.gauss(0, 1) for _ in range(DIM)]
    norm = sum(x * x for x in v) ** 0.5
    return [x / norm for x in v]


def _sparse(rng: random.Random) -> SparseVec:
    indices = sorted(rng.sample(range(300), 4))
    return SparseVec(indices=indices, values=[round(rng.uniform(0.1, 2.0), 3) for _ in indices])


def _points() -> list[StoredPoint]:
    rng = random.Random(7)
    return [
        StoredPoint(
            id=f"00000000-0000-0000-0000-{i:012d}",
            dense=_unit(rng),
            sparse=_sparse(rng),
            payload={fields.DOCUMENT_ID: f"doc-{i}", fields.KIND: "chunk", fields.TEXT: f"text {i}"},
        )
        for i in range(N)
    ]


def _make(kind: str, root: Path, layout: VectorLayout) -> VectorStore:
    if kind == "edge":
        return EdgeStore(root, layout=layout)
    return ClientStore(QdrantClient(":memory:"), layout=layout)


@pytest.fixture(params=["edge", "client"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[VectorStore, VectorStore]]:
    """(plain, quantized) stores of one adapter kind, holding the same points."""
    plain = _make(request.param, tmp_path / "plain", VectorLayout())
    quantized = _make(request.param, tmp_path / "quantized", QUANTIZED)
    points = _points()
    for store in (plain, quantized):
        store.ensure_collection("c", dim=DIM)
        store.upsert("c", points)
        store.optimize("c")
    yield plain, quantized
    plain.close()
    quantized.close()


@pytest.mark.parametrize("mode", [SearchMode.DENSE, SearchMode.HYBRID])
def test_quantized_collection_returns_the_plain_results(
    pair: tuple[VectorStore, VectorStore], mode: SearchMode
) -> None:
    plain, quantized = pair
    rng = random.Random(11)
    agree = total = 0
    for _ in range(20):
        query = store_query(mode, limit=10, dense=_unit(rng), sparse=_sparse(rng))
        want = plain.query("c", query)
        got = quantized.query("c", query)
        assert len(got) == len(want) == 10
        agree += len({p.id for p in got} & {p.id for p in want})
        total += len(want)
        if mode is SearchMode.DENSE:
            # Rescored with the originals: the scores of shared hits are the exact cosine similarities.
            exact = {p.id: p.score for p in want}
            for p in got:
                if p.id in exact:
                    assert p.score == pytest.approx(exact[p.id], abs=1e-5)
    assert agree / total >= 0.95


def test_edge_shard_records_the_layout(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path, layout=QUANTIZED)
    store.ensure_collection("c", dim=DIM)
    store.close()
    config = json.loads((tmp_path / "c" / "edge_config.json").read_text(encoding="utf-8"))
    text = json.dumps(config).lower()
    assert "int8" in text
    assert "quantization" in text


def test_settings_reach_the_store(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, vector_quantization="int8", vectors_on_disk=True, quantization_oversampling=3.0
    )
    store = create_store(settings)
    try:
        store.ensure_collection("c", dim=DIM)
        store.upsert("c", _points()[:50])
        assert store.count("c") == 50
    finally:
        store.close()
    config = json.loads((tmp_path / "qdrant-edge" / "c" / "edge_config.json").read_text(encoding="utf-8"))
    assert "int8" in json.dumps(config).lower()
