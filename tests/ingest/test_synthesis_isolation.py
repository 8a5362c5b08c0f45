"""Synthesis cannot change chunk-only search: same ids, order and scores before and after, every mode, both adapters.

Also: lambda = alpha = 0 is exactly raw, and a document's synthetic points follow it (new version, deletion).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from app.components import Components, build_components
from ingest.files import collect_files, load_item
from kernel.models import PointKind, SearchMode
from kernel.ports import VectorStore
from kernel.settings import Settings
from kernel.tenancy import synthetic_collection
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.rerank import RerankParams
from retrieval.stores.client import ClientStore
from retrieval.stores.edge import EdgeStore
from tests.fixtures_docs import write_sample_folder
from tests.ingest.test_synthesis_stage import ScriptedTeacher

QUERIES = [
    "honey bees in the hive",
    "how hot is lava from a volcano",
    "which chess opening starts with the king's pawn",
    "who kept the lighthouse lamp burning",
    "how much water goes into sourdough bread",
]
Ranking = list[tuple[str, float]]
# The client adapter runs on qdrant-client's local mode here, which warns that it ignores payload indexes.
pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant:UserWarning")
KINDS = (PointKind.QUESTION, PointKind.SUMMARY, PointKind.KEYWORDS)


@pytest.fixture(params=["edge", "client"])
def built(
    request: pytest.FixtureRequest, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[Components]:
    store: VectorStore = (
        EdgeStore(tmp_path / "edge") if request.param == "edge" else ClientStore(QdrantClient(":memory:"))
    )
    settings = Settings(
        data_dir=tmp_path / "data", synth={"generate": "all", "roundtrip": False, "grounding": False, "dedup": False}
    )
    components = build_components(settings, embedder=embedder, store=store, teacher=ScriptedTeacher())
    yield components
    components.close()


def _rankings(components: Components, **kwargs: object) -> dict[tuple[str, SearchMode], Ranking]:
    searcher = components.search.searcher
    return {
        (query, mode): [
            (h.id, h.score)
            for h in searcher.search(query, collection="c", k=15, mode=mode, **kwargs).hits  # type: ignore[arg-type]
        ]
        for query in QUERIES
        for mode in SearchMode
    }


def _same(after: dict[tuple[str, SearchMode], Ranking], before: dict[tuple[str, SearchMode], Ranking]) -> bool:
    """Same ids in the same order with the same scores.

    Exact on the edge store. qdrant-client's local mode (the client adapter here) re-normalizes the stored
    vectors in place on every cosine search (float64 norm, stored back as float32), which can move a
    vector by one float32 ulp whatever wrote it: a search alone, with no synthesis, can then change a
    score at the 1e-9 level. So there, ids and order are exact and scores agree within 1e-6.
    """
    if after.keys() != before.keys():
        return False
    for key, ranking in after.items():
        if [i for i, _ in ranking] != [i for i, _ in before[key]]:
            return False
        if any(abs(a - b) > 1e-6 for (_, a), (_, b) in zip(ranking, before[key], strict=True)):
            return False
    return True


def test_chunk_only_search_is_identical_before_and_after_synthesis(built: Components, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_sample_folder(folder)
    found, _ = collect_files([folder])
    items = [load_item(f) for f in found]
    ingestor = built.ingest.ingestor
    ingestor.ingest(items, collection="c", synthesize=False)
    store = built.search.store
    chunks_before = store.count("c")
    before = _rankings(built)

    outcomes = ingestor.ingest(items, collection="c", synthesize=True)
    assert all(o.synthetic is not None and o.synthetic.kept > 0 for o in outcomes)
    assert store.count(synthetic_collection("c")) > 0  # the items exist, in the companion
    assert store.count("c") == chunks_before  # and nothing was added beside the chunks
    exact = isinstance(store, EdgeStore)

    def same(after: dict[tuple[str, SearchMode], Ranking]) -> bool:
        return after == before if exact else _same(after, before)

    assert same(_rankings(built))
    assert same(_rankings(built, synthetic=False))
    off = RerankParams(rerank_lambda=0.0, expansion_alpha=0.0, depth=20, kinds=())
    assert same(_rankings(built, rerank=off))
    # Strengths at or below 1 are worth less than one raw place: still exactly raw.
    weak = RerankParams(rerank_lambda=0.5, expansion_alpha=0.5, depth=20, kinds=KINDS)
    assert same(_rankings(built, rerank=weak))

    # A new version of a document drops the old version's synthetic points with its chunks.
    first = outcomes[0].document_id
    assert first is not None
    assert store.document_point_ids(synthetic_collection("c"), first)
    changed = items[0].model_copy(
        update={"document": items[0].document.model_copy(update={"text": items[0].document.text + " More."})}
    )
    ingestor.ingest([changed], collection="c", synthesize=False)
    assert store.document_point_ids(synthetic_collection("c"), first) == set()
