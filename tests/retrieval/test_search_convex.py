"""Convex fusion through the real searcher and store: it is the convex combination of the two arms' searches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.components import Components
from ingest.files import collect_files, load_item
from kernel.models import Diversity, Fusion, SearchMode
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.fusion import convex_fuse
from tests.conftest import make_components
from tests.fixtures_docs import write_sample_folder

QUERY = "honey bees in the hive and lava from a volcano"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[Components]:
    root = tmp_path_factory.mktemp("convex")
    settings = Settings(
        data_dir=root / "data", chunk_max_tokens=32, chunk_overlap_tokens=8, prefetch_limit=15,
        fusion=Fusion.CONVEX, fusion_norm="zscore", fusion_dense_weight=0.7,
    )  # fmt: skip
    components = make_components(settings, embedder)
    write_sample_folder(root / "docs")
    found, _ = collect_files([root / "docs"])
    components.ingest.ingestor.ingest((load_item(f) for f in found), collection="c")
    yield components
    components.close()


def test_convex_hybrid_is_the_weighted_sum_of_the_normalized_arms(indexed: Components) -> None:
    searcher = indexed.search.searcher
    common = {"collection": "c", "k": 15, "synthetic": False, "diversity": Diversity.NONE}
    dense = searcher.search(QUERY, mode=SearchMode.DENSE, **common).hits  # type: ignore[arg-type]
    bm25 = searcher.search(QUERY, mode=SearchMode.BM25, **common).hits  # type: ignore[arg-type]
    expected = convex_fuse(
        [(h.id, h.score) for h in dense], [(h.id, h.score) for h in bm25], dense_weight=0.7, norm="zscore"
    )[:8]
    fused = searcher.search(QUERY, collection="c", k=8, mode=SearchMode.HYBRID, synthetic=False).hits
    assert [h.id for h in fused] == [pid for pid, _ in expected]
    assert [h.score for h in fused] == pytest.approx([score for _, score in expected])
    # The fusion setting is the default; a request can still ask for RRF, which the store runs.
    rrf = searcher.search(QUERY, collection="c", k=8, mode=SearchMode.HYBRID, synthetic=False, fusion=Fusion.RRF)
    assert [h.id for h in rrf.hits] != [h.id for h in fused] or [h.score for h in rrf.hits] != [h.score for h in fused]
