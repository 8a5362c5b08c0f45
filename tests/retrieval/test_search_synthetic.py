"""Raw-first re-ranking with synthetic evidence from the companion collection, through the real searcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.components import Components
from ingest.files import collect_files, load_item
from kernel import payload as P
from kernel.errors import InvalidRequestError
from kernel.ids import synthetic_point_id
from kernel.models import PointKind, SearchFilters, SearchMode, StoredPoint
from kernel.settings import Settings
from kernel.tenancy import synthetic_collection
from knowledge.profile import METADATA_KEY, TeacherProfile
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.profiles import CollectionProfiles
from retrieval.rerank import RerankParams, max_shift
from retrieval.search import Searcher
from retrieval.spaces import WouldBlock
from tests.conftest import make_components
from tests.fixtures_docs import write_sample_folder
from tests.retrieval.conftest import store_query

QUERY = "honey bees in the hive"
#: Words of every sample topic, so that BM25 too ranks several chunks.
BROAD = "honey bees hive volcano lava chess opening lighthouse keeper sourdough bread"
KINDS = (PointKind.QUESTION, PointKind.SUMMARY, PointKind.KEYWORDS)


@pytest.fixture
def indexed(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Components]:
    settings = Settings(data_dir=tmp_path / "data", rrf_k=10)
    components = make_components(settings, embedder)
    folder = tmp_path / "docs"
    folder.mkdir()
    write_sample_folder(folder)
    found, _ = collect_files([folder])
    components.ingest.ingestor.ingest((load_item(f) for f in found), collection="c")
    yield components
    components.close()


def _chunk_payload(components: Components, chunk_id: str) -> dict[str, Any]:
    every_chunk = store_query(
        SearchMode.DENSE,
        limit=1000,
        dense=components.search.embedder.embed(["x"])[0],
        filters=SearchFilters(kinds=[PointKind.CHUNK]),
    )
    return next(p.payload for p in components.search.store.query("c", every_chunk) if p.id == chunk_id)


def _plant(components: Components, parent_id: str, text: str, kind: PointKind = PointKind.QUESTION) -> None:
    """Store a synthetic item for a chunk in the companion, bypassing the filter (what a bad teacher would write)."""
    parent = _chunk_payload(components, parent_id)
    payload = {**parent, P.KIND: kind.value, P.TEXT: text, P.PARENT_TEXT: parent[P.TEXT], P.CHUNK_ID: parent_id}
    point = StoredPoint(
        id=synthetic_point_id(parent_id=parent_id, kind=kind.value, text=text),
        dense=components.search.embedder.embed([text])[0],
        sparse=components.search.sparse.encode_documents([text], avg_len=20.0)[0],
        payload=payload,
    )
    companion = synthetic_collection("c")
    components.search.store.ensure_collection(companion, dim=components.search.embedder.dim)
    components.search.store.upsert(companion, [point])


def _ids(components: Components, query: str = QUERY, **kwargs: Any) -> list[str]:
    return [h.id for h in components.search.searcher.search(query, collection="c", **kwargs).hits]


def test_without_synthetic_items_rerank_equals_chunk_search(indexed: Components) -> None:
    params = RerankParams(rerank_lambda=5.0, expansion_alpha=5.0, depth=20, kinds=KINDS)
    assert _ids(indexed, k=5, rerank=params) == _ids(indexed, k=5, synthetic=False)


@pytest.mark.parametrize("mode", list(SearchMode))
def test_a_bad_teacher_moves_a_chunk_at_most_the_bound(indexed: Components, mode: SearchMode) -> None:
    raw = _ids(indexed, BROAD, k=20, mode=mode, synthetic=False)
    assert len(raw) >= 5
    target = min(6, len(raw) - 1)
    wrong = raw[target]  # a lower chunk gets an item that repeats the query word for word
    _plant(indexed, wrong, BROAD)
    for strength in (0.0, 1.0, 2.5, 4.0):
        params = RerankParams(rerank_lambda=strength, depth=20, kinds=KINDS)
        hits = indexed.search.searcher.search(BROAD, collection="c", k=20, mode=mode, rerank=params).hits
        ranked = [h.id for h in hits]
        assert sorted(ranked) == sorted(raw)  # the same candidates, nothing new
        for position, cid in enumerate(ranked):
            assert abs(raw.index(cid) - position) <= max_shift(strength)
        if strength == 0.0:
            assert ranked == raw
    lifted = ranked.index(wrong)
    assert lifted < target  # the evidence did lift it: the test is not vacuous
    hit = hits[lifted]
    assert hit.kind == "chunk" and hit.matched_text == BROAD
    assert hit.text == _chunk_payload(indexed, wrong)[P.TEXT]  # the chunk's text, not the item's


def test_the_collection_profile_decides_by_default(indexed: Components) -> None:
    store = indexed.search.store
    # No cache between searches here (the service re-reads a profile at most every PROFILE_TTL_S).
    searcher = Searcher(
        store=store,
        embedder=indexed.search.embedder,
        sparse=indexed.search.sparse,
        settings=indexed.settings,
        profiles=CollectionProfiles(store, ttl_s=0.0),
    )

    def ids(**kwargs: Any) -> list[str]:
        return [h.id for h in searcher.search(QUERY, collection="c", k=10, **kwargs).hits]

    raw = ids(synthetic=False)
    _plant(indexed, raw[3], QUERY)
    assert ids() == raw  # no profile stored: chunks alone
    profile = TeacherProfile(teacher="t", rerank_lambda=4.0, item_kinds=list(KINDS), search_modes=[SearchMode.HYBRID])
    store.set_metadata("c", {**store.get_metadata("c"), METADATA_KEY: profile.model_dump(mode="json")})
    moved = ids()
    assert moved != raw and moved.index(raw[3]) < 3
    assert ids(synthetic=False) == raw  # per-request opt-out
    assert ids(mode=SearchMode.DENSE) == ids(mode=SearchMode.DENSE, synthetic=False)  # not in the profile's modes


def test_profiles_are_cached_for_a_short_time(indexed: Components) -> None:
    store = indexed.search.store
    now = [0.0]
    profiles = CollectionProfiles(store, ttl_s=5.0, clock=lambda: now[0])
    assert profiles("c") is None
    profile = TeacherProfile(teacher="t", rerank_lambda=2.0)
    store.set_metadata("c", {**store.get_metadata("c"), METADATA_KEY: profile.model_dump(mode="json")})
    assert profiles("c") is None  # still the cached read
    now[0] = 5.0
    assert profiles("c") == profile


def test_dense_query_from_memory_matches_the_read_one_or_would_block(indexed: Components) -> None:
    searcher = indexed.search.searcher  # the service's: profile and space records cached for seconds
    with pytest.raises(WouldBlock):  # nothing read yet: the profile needs the store
        searcher.dense_query(QUERY, collection="c", cached_only=True)
    read = searcher.dense_query(QUERY, collection="c")
    cached = searcher.dense_query(QUERY, collection="c", cached_only=True)
    assert read is not None and cached == read
    assert searcher.dense_query(QUERY, collection="c", mode=SearchMode.BM25, cached_only=True) is None
    with pytest.raises(InvalidRequestError):  # a bad query is refused either way
        searcher.dense_query("  ", collection="c", cached_only=True)
    with pytest.raises(WouldBlock):  # a named space needs the record read fresh
        searcher.dense_query(QUERY, collection="c", space="dense-x", cached_only=True)


def test_kinds_filter_searches_exactly_those_kinds(indexed: Components) -> None:
    raw = indexed.search.searcher.search(QUERY, collection="c", k=1, synthetic=False).hits[0]
    _plant(indexed, raw.id, "Where do worker bees live?")
    only_questions = indexed.search.searcher.search(
        QUERY, collection="c", k=5, filters=SearchFilters(kinds=[PointKind.QUESTION])
    ).hits
    assert [h.kind for h in only_questions] == ["question"]
    assert only_questions[0].text == "Where do worker bees live?"
    with pytest.raises(InvalidRequestError, match="mixes chunks and synthetic"):
        indexed.search.searcher.search(
            QUERY, collection="c", filters=SearchFilters(kinds=[PointKind.CHUNK, PointKind.QUESTION])
        )


def test_synthetic_points_never_enter_the_chunk_collection(indexed: Components) -> None:
    before = indexed.search.store.count("c")
    raw = _ids(indexed, k=3, synthetic=False)
    _plant(indexed, raw[0], "Where do worker bees live?")
    assert indexed.search.store.count("c") == before
    assert indexed.search.store.count(synthetic_collection("c")) == 1
