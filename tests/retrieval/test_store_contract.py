"""One contract suite run against every VectorStore adapter (qdrant-edge and qdrant-client)."""

from __future__ import annotations

import math
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kernel import payload as fields
from kernel.errors import InvalidRequestError, NotFoundError
from kernel.models import PointKind, SearchFilters, SearchMode, StoreQuery
from kernel.ports import VectorStore
from kernel.settings import Settings
from retrieval.fusion import rrf_fuse
from retrieval.sparse import Bm25Encoder
from retrieval.stores import create_store
from retrieval.stores.client import ClientStore
from retrieval.stores.edge import EdgeStore
from tests.retrieval.conftest import COLLECTION, CORPUS, DIM, Doc, encode, pid, store_query, unit
from tests.retrieval.mmr_oracle import mmr_select

# qdrant-client's local mode (our stand-in for the server API) ignores payload indexes and says so
# once per process; the server honours them, so the warning carries no information for these tests.
pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant:UserWarning")

NAMES = {pid(d.key): d.key for d in CORPUS}


def keys(points: list[Any]) -> list[str]:
    """Test keys (alpha, beta, ...) of returned points, in order."""
    return [NAMES.get(p.id, p.id) for p in points]


def dense_query(vector: list[float], *, limit: int = 10, filters: SearchFilters | None = None) -> StoreQuery:
    return store_query(SearchMode.DENSE, limit=limit, dense=vector, filters=filters)


def test_ensure_collection_is_idempotent(store: VectorStore) -> None:
    store.ensure_collection(COLLECTION, dim=DIM)
    store.ensure_collection(COLLECTION, dim=DIM)
    assert store.list_collections() == [COLLECTION]
    assert store.count(COLLECTION) == 0
    assert store.query(COLLECTION, dense_query(unit((0, 1.0)))) == []


def test_exists_follows_create_and_drop(store: VectorStore) -> None:
    assert store.exists(COLLECTION) is False
    store.ensure_collection(COLLECTION, dim=DIM)
    assert store.exists(COLLECTION) is True
    assert store.exists("other") is False
    store.drop_collection(COLLECTION)
    assert store.exists(COLLECTION) is False


def test_exists_lists_nothing(store: VectorStore) -> None:
    # Answering exists must not create the collection or anything listed.
    assert store.exists("ghost") is False
    assert store.list_collections() == []
    assert store.exists("ghost") is False


def test_store_query_has_no_fusion_defaults() -> None:
    # The settings are the one source of the fusion parameters: a query without them is refused.
    with pytest.raises(ValidationError) as failed:
        StoreQuery(mode=SearchMode.HYBRID, limit=1, dense=unit((0, 1.0)))  # type: ignore[call-arg]
    missing = {str(error["loc"][0]) for error in failed.value.errors() if error["type"] == "missing"}
    assert missing == {"prefetch_limit", "rrf_k", "mmr_diversity", "mmr_candidates"}


def test_ensure_collection_refuses_another_dimension(store: VectorStore) -> None:
    store.ensure_collection(COLLECTION, dim=DIM)
    with pytest.raises(InvalidRequestError, match="8-d"):
        store.ensure_collection(COLLECTION, dim=DIM * 2)


def test_upsert_then_count_and_payload(loaded: VectorStore) -> None:
    assert loaded.count(COLLECTION) == len(CORPUS)
    top = loaded.query(COLLECTION, dense_query(unit((1, 1.0))))[0]
    assert top.id == pid("beta")
    uuid.UUID(top.id)  # a canonical UUID string
    assert top.score == pytest.approx(1.0, abs=1e-5)
    assert top.payload[fields.DOCUMENT_ID] == "doc-a"
    assert top.payload[fields.TAGS] == ["fruit"]


def test_upsert_same_id_replaces(loaded: VectorStore, encoder: Bm25Encoder) -> None:
    moved = Doc("alpha", "Apricots in a new orchard", unit((5, 1.0)), "doc-a", ("new",))
    loaded.upsert(COLLECTION, encode(encoder, [moved]))
    assert loaded.count(COLLECTION) == len(CORPUS)
    hits = loaded.query(COLLECTION, dense_query(unit((5, 1.0))))
    assert hits[0].id == pid("alpha")
    assert hits[0].payload[fields.TAGS] == ["new"]
    assert [h.id for h in hits].count(pid("alpha")) == 1


def test_dense_mode_best_hit(loaded: VectorStore) -> None:
    assert keys(loaded.query(COLLECTION, dense_query(unit((2, 1.0)), limit=1))) == ["gamma"]


def test_bm25_mode_best_hit_and_only_matching_points(loaded: VectorStore, encoder: Bm25Encoder) -> None:
    query = store_query(SearchMode.BM25, limit=10, sparse=encoder.encode_query("banana"))
    assert keys(loaded.query(COLLECTION, query)) == ["beta"]
    query = store_query(SearchMode.BM25, limit=10, sparse=encoder.encode_query("grow"))
    assert set(keys(loaded.query(COLLECTION, query))) == {"alpha", "delta"}


def test_hybrid_returns_union_of_both_arms(loaded: VectorStore, encoder: Bm25Encoder) -> None:
    # Dense arm's best is alpha, BM25 arm's only match is gamma; one candidate per arm.
    query = store_query(
        SearchMode.HYBRID,
        limit=10,
        dense=unit((0, 1.0)),
        sparse=encoder.encode_query("cherries"),
        prefetch_limit=1,
    )
    assert set(keys(loaded.query(COLLECTION, query))) == {"alpha", "gamma"}


def test_hybrid_scores_are_rrf_of_the_two_rankings(loaded: VectorStore, encoder: Bm25Encoder) -> None:
    dense = unit((0, 4.0), (1, 3.0), (2, 2.0), (3, 1.0))  # distinct similarity for every point
    sparse = encoder.encode_query("grow cherries")
    dense_ids = [p.id for p in loaded.query(COLLECTION, dense_query(dense))]
    bm25 = store_query(SearchMode.BM25, limit=10, sparse=sparse)
    bm25_ids = [p.id for p in loaded.query(COLLECTION, bm25)]
    assert len(dense_ids) == 4 and len(bm25_ids) == 3
    hybrid = store_query(SearchMode.HYBRID, limit=10, dense=dense, sparse=sparse, rrf_k=2)
    got = [(p.id, p.score) for p in loaded.query(COLLECTION, hybrid)]
    expected = rrf_fuse([dense_ids, bm25_ids], k=2)
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-5)


def _cos_sin(degrees: float) -> tuple[float, float]:
    return math.cos(math.radians(degrees)), math.sin(math.radians(degrees))


def test_hybrid_mmr_skips_near_duplicates(store: VectorStore, encoder: Bm25Encoder) -> None:
    # Three near-duplicates 40 degrees off the query, one distinct point 50 degrees off (on another
    # axis, so its cosine to the duplicates is only cos40*cos50 = 0.49). With diversity 0.3 the
    # second pick scores 0.7*0.766 - 0.3*1.0 = 0.24 for a duplicate, 0.7*0.643 - 0.3*0.49 = 0.30
    # for the distinct point.
    c40, s40 = _cos_sin(40)
    c50, s50 = _cos_sin(50)
    docs = [Doc(f"dup{i}", "kiwi fruit salad", unit((0, c40), (1, s40), (7, 0.001 * i)), "doc-k") for i in range(3)]
    docs += [
        Doc("other", "kiwi smoothie", unit((0, c50), (2, s50)), "doc-k"),
        Doc("far", "lemon tart", unit((4, 1.0)), "doc-k"),
    ]
    store.ensure_collection("mmr", dim=DIM)
    store.upsert("mmr", encode(encoder, docs))
    query = unit((0, 1.0))
    names = {pid(d.key): d.key for d in docs}

    def run(diversity: float) -> list[str]:
        q = store_query(
            SearchMode.HYBRID_MMR,
            limit=2,
            dense=query,
            sparse=encoder.encode_query("kiwi"),
            mmr_diversity=diversity,
        )
        return [names[p.id] for p in store.query("mmr", q)]

    relevant_only = run(0.0)
    assert len(relevant_only) == 2 and all(k.startswith("dup") for k in relevant_only)
    diverse = run(0.3)
    assert diverse[0].startswith("dup") and diverse[1] == "other"
    # The pure function agrees with the store's native MMR on the same candidates.
    candidates = [(d.key, d.dense, None) for d in docs]
    picked = mmr_select(query, candidates, k=2, diversity=0.3)
    assert picked[0].startswith("dup") and picked[1] == "other"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SearchFilters(document_ids=["doc-b"]), {"gamma", "delta"}),
        (SearchFilters(document_ids=["doc-a", "doc-b"]), {"alpha", "beta", "gamma", "delta"}),
        (SearchFilters(tags=["red"]), {"alpha", "gamma"}),
        (SearchFilters(tags=["fruit", "none"]), {"alpha", "beta"}),
        (SearchFilters(kinds=[PointKind.QUESTION]), {"delta"}),
        (SearchFilters(tags=["red"], document_ids=["doc-b"]), {"gamma"}),
        (SearchFilters(document_ids=["nope"]), set()),
    ],
)
def test_filters(loaded: VectorStore, filters: SearchFilters, expected: set[str]) -> None:
    assert set(keys(loaded.query(COLLECTION, dense_query(unit((0, 1.0)), filters=filters)))) == expected


@pytest.mark.parametrize("mode", list(SearchMode))
def test_filters_apply_in_every_mode(loaded: VectorStore, encoder: Bm25Encoder, mode: SearchMode) -> None:
    # Unfiltered, alpha wins both arms; the filter must hold inside every prefetch too.
    query = store_query(
        mode,
        limit=10,
        dense=unit((0, 1.0)),
        sparse=encoder.encode_query("apples grow cherries"),
        filters=SearchFilters(document_ids=["doc-b"]),
    )
    found = set(keys(loaded.query(COLLECTION, query)))
    assert found and found <= {"gamma", "delta"}


@pytest.mark.parametrize("mode", list(SearchMode))
def test_with_vectors_returns_the_stored_dense_vectors(
    loaded: VectorStore, encoder: Bm25Encoder, mode: SearchMode
) -> None:
    # Near-duplicate demotion compares hits by their stored vectors; without the flag none travel.
    params: dict[str, Any] = {"dense": unit((0, 1.0)), "sparse": encoder.encode_query("apples grow cherries")}
    plain = loaded.query(COLLECTION, store_query(mode, limit=10, **params))
    assert plain and all(p.dense is None for p in plain)
    found = loaded.query(COLLECTION, store_query(mode, limit=10, with_vectors=True, **params))
    assert {p.id for p in found} == {p.id for p in plain}  # MMR orders ties (orthogonal vectors) freely
    stored = {pid(d.key): d.dense for d in CORPUS}
    for point in found:
        assert point.dense is not None
        assert point.dense == pytest.approx(stored[point.id], abs=1e-6)


def test_query_needs_the_vectors_of_its_mode(loaded: VectorStore) -> None:
    with pytest.raises(InvalidRequestError, match="dense"):
        loaded.query(COLLECTION, store_query(SearchMode.HYBRID, limit=1))
    with pytest.raises(InvalidRequestError, match="sparse"):
        loaded.query(COLLECTION, store_query(SearchMode.BM25, limit=1))


def test_delete_by_ids(loaded: VectorStore) -> None:
    loaded.delete(COLLECTION, [pid("alpha"), pid("not-stored")])
    loaded.delete(COLLECTION, [])
    assert loaded.count(COLLECTION) == 3
    assert "alpha" not in keys(loaded.query(COLLECTION, dense_query(unit((0, 1.0)))))


def test_delete_document_removes_only_that_document(loaded: VectorStore) -> None:
    assert loaded.document_point_ids(COLLECTION, "doc-a") == {pid("alpha"), pid("beta")}
    assert loaded.delete_document(COLLECTION, "doc-a") == 2
    assert loaded.document_point_ids(COLLECTION, "doc-a") == set()
    assert loaded.document_point_ids(COLLECTION, "doc-b") == {pid("gamma"), pid("delta")}
    assert loaded.count(COLLECTION) == 2
    assert loaded.delete_document(COLLECTION, "doc-a") == 0


def test_document_point_ids_pages_through_many_points(store: VectorStore, encoder: Bm25Encoder) -> None:
    docs = [Doc(f"p{i}", f"point number {i}", unit((i % DIM, 1.0)), "big") for i in range(2100)]
    store.ensure_collection(COLLECTION, dim=DIM)
    store.upsert(COLLECTION, encode(encoder, docs))
    assert store.document_point_ids(COLLECTION, "big") == {pid(d.key) for d in docs}


def test_documents_point_kinds_answers_for_many_documents_at_once(loaded: VectorStore) -> None:
    found = loaded.documents_point_kinds(COLLECTION, ["doc-a", "doc-b", "doc-none"])
    assert found == {
        "doc-a": {pid("alpha"): "chunk", pid("beta"): "chunk"},
        "doc-b": {pid("gamma"): "chunk", pid("delta"): "question"},
    }
    assert loaded.documents_point_kinds(COLLECTION, ["doc-b"]) == {"doc-b": found["doc-b"]}
    assert loaded.documents_point_kinds(COLLECTION, []) == {}
    assert loaded.documents_point_kinds("never-created", ["doc-a"]) == {}


def test_documents_point_kinds_pages_through_many_points(store: VectorStore, encoder: Bm25Encoder) -> None:
    docs = [Doc(f"p{i}", f"point number {i}", unit((i % DIM, 1.0)), f"doc-{i % 3}") for i in range(2100)]
    store.ensure_collection(COLLECTION, dim=DIM)
    store.upsert(COLLECTION, encode(encoder, docs))
    found = store.documents_point_kinds(COLLECTION, ["doc-0", "doc-2"])
    assert set(found) == {"doc-0", "doc-2"}
    assert found["doc-2"] == {pid(d.key): "chunk" for d in docs if d.document_id == "doc-2"}
    assert sum(len(ids) for ids in found.values()) == 1400


def test_metadata_roundtrip_replaces(loaded: VectorStore) -> None:
    assert loaded.get_metadata(COLLECTION) == {}
    meta = {"embed_model": "mini", "bm25": {"avg_len": 12.5, "docs": [1, 2]}}
    loaded.set_metadata(COLLECTION, meta)
    assert loaded.get_metadata(COLLECTION) == meta
    loaded.set_metadata(COLLECTION, {"embed_model": "other"})
    assert loaded.get_metadata(COLLECTION) == {"embed_model": "other"}


def test_list_and_drop_collections(loaded: VectorStore) -> None:
    loaded.ensure_collection("second", dim=DIM)
    assert loaded.list_collections() == [COLLECTION, "second"]
    loaded.drop_collection(COLLECTION)
    loaded.drop_collection("never-existed")
    assert loaded.list_collections() == ["second"]
    assert loaded.count(COLLECTION) == 0
    loaded.ensure_collection(COLLECTION, dim=DIM)  # re-creating after a drop starts empty
    assert loaded.count(COLLECTION) == 0
    assert loaded.get_metadata(COLLECTION) == {}


def test_missing_collection(store: VectorStore) -> None:
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.query("ghost", dense_query(unit((0, 1.0))))
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.set_metadata("ghost", {"a": 1})
    assert store.count("ghost") == 0
    assert store.document_point_ids("ghost", "doc-a") == set()
    assert store.delete_document("ghost", "doc-a") == 0
    assert store.get_metadata("ghost") == {}
    store.delete("ghost", [pid("alpha")])
    store.optimize("ghost")
    assert store.list_collections() == []


def test_optimize_keeps_results(loaded: VectorStore) -> None:
    loaded.optimize(COLLECTION)
    assert keys(loaded.query(COLLECTION, dense_query(unit((3, 1.0)), limit=1))) == ["delta"]


def test_concurrent_writes_and_reads(store: VectorStore, encoder: Bm25Encoder) -> None:
    store.ensure_collection(COLLECTION, dim=DIM)
    batches = [encode(encoder, [Doc(f"t{i}", f"thread text {i}", unit((i % DIM, 1.0)), "t")]) for i in range(40)]

    def work(i: int) -> None:
        store.upsert(COLLECTION, batches[i])
        store.query(COLLECTION, dense_query(unit((i % DIM, 1.0))))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(40)))
    assert store.count(COLLECTION) == 40


def test_edge_store_persists_across_reopen(tmp_path: Path, encoder: Bm25Encoder) -> None:
    first = EdgeStore(tmp_path)
    first.ensure_collection(COLLECTION, dim=DIM)
    first.upsert(COLLECTION, encode(encoder, CORPUS))
    first.set_metadata(COLLECTION, {"embed_model": "mini"})
    first.close()

    again = EdgeStore(tmp_path)
    try:
        assert again.list_collections() == [COLLECTION]
        assert again.exists(COLLECTION)  # from the directory alone, before the shard is opened
        assert again.count(COLLECTION) == len(CORPUS)
        assert again.get_metadata(COLLECTION) == {"embed_model": "mini"}
        sparse = encoder.encode_query("cherries")
        hits = again.query(COLLECTION, store_query(SearchMode.BM25, limit=1, sparse=sparse))
        assert keys(hits) == ["gamma"]
        again.ensure_collection(COLLECTION, dim=DIM)  # reopening an existing shard is fine
        assert again.count(COLLECTION) == len(CORPUS)
    finally:
        again.close()


def test_factory_picks_the_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    embedded = create_store(Settings(data_dir=tmp_path))
    assert isinstance(embedded, EdgeStore)
    embedded.close()

    seen: dict[str, Any] = {}

    class FakeClient:
        def __init__(self, **kwargs: Any) -> None:
            seen.update(kwargs)
            self.init_options = {"location": None, "path": None, **kwargs}

    # No server in tests: capture the arguments instead of connecting.
    monkeypatch.setattr("qdrant_client.QdrantClient", FakeClient)
    remote = create_store(Settings(qdrant_url="https://qdrant.example:6333", qdrant_api_key="s3cret"))
    assert isinstance(remote, ClientStore)
    assert seen == {"url": "https://qdrant.example:6333", "api_key": "s3cret"}


def test_edge_store_refuses_names_that_leave_its_root(tmp_path: Path) -> None:
    edge = EdgeStore(tmp_path / "root")
    with pytest.raises(InvalidRequestError, match="collection name"):
        edge.ensure_collection("../escape", dim=DIM)
    assert not (tmp_path / "escape").exists()
    assert edge.exists("../escape") is False  # no collection can have that name


def test_document_point_ids_by_kind(loaded: VectorStore) -> None:
    assert loaded.document_point_ids(COLLECTION, "doc-b", kinds=[PointKind.CHUNK]) == {pid("gamma")}
    assert loaded.document_point_ids(COLLECTION, "doc-b", kinds=[PointKind.QUESTION, PointKind.SUMMARY]) == {
        pid("delta")
    }
    assert loaded.document_point_ids(COLLECTION, "doc-a", kinds=[PointKind.QUESTION]) == set()


def test_set_payload_merges_into_metadata_and_is_filterable(loaded: VectorStore) -> None:
    loaded.set_payload(COLLECTION, [pid("alpha"), pid("beta")], {"metadata": {"team": "fruit"}})
    loaded.set_payload(
        COLLECTION, [pid("alpha")], {"doc_type": "report", "entities": ["Apple Inc", "Orchard"]}, key="metadata"
    )
    loaded.set_payload(COLLECTION, [], {"doc_type": "ignored"}, key="metadata")

    def found(metadata: dict[str, str | list[str]]) -> set[str]:
        return set(
            keys(loaded.query(COLLECTION, dense_query(unit((0, 1.0)), filters=SearchFilters(metadata=metadata))))
        )

    assert found({"doc_type": "report"}) == {"alpha"}
    assert found({"team": "fruit"}) == {"alpha", "beta"}  # the nested merge kept the older key
    assert found({"entities": ["Orchard", "Pear"]}) == {"alpha"}
    assert found({"doc_type": "email"}) == set()
    [alpha] = [p for p in loaded.query(COLLECTION, dense_query(unit((0, 1.0)))) if p.id == pid("alpha")]
    assert alpha.payload["metadata"] == {"team": "fruit", "doc_type": "report", "entities": ["Apple Inc", "Orchard"]}
    assert alpha.payload[fields.TEXT] == "Apples and oranges grow in orchards"  # other fields untouched


@pytest.mark.parametrize("mode", list(SearchMode))
def test_dense_spaces_add_fill_search_and_drop(loaded: VectorStore, encoder: Bm25Encoder, mode: SearchMode) -> None:
    space = "dense-adapted"
    loaded.add_dense_space(COLLECTION, space, dim=DIM)
    loaded.add_dense_space(COLLECTION, space, dim=DIM)  # idempotent
    assert loaded.dense_spaces(COLLECTION) == [fields.DENSE_VECTOR, space]
    # Nothing filled yet: every point lacks the space; the base space still answers as before.
    missing = {p for p, _ in loaded.scan(COLLECTION, offset=None, limit=100, missing=space)[0]}
    assert missing == {pid(d.key) for d in CORPUS}
    # The adapted space maps each point to another axis: alpha's vector there is beta's base one.
    rotated = {pid(d.key): unit(((i + 1) % DIM, 1.0)) for i, d in enumerate(CORPUS)}
    loaded.set_dense(COLLECTION, space, rotated)
    assert loaded.scan(COLLECTION, offset=None, limit=100, missing=space)[0] == []
    sparse = encoder.encode_query("apples oranges bananas cherries dates")
    query = store_query(mode, limit=1, dense=unit((1, 1.0)), sparse=sparse, mmr_diversity=0.0)
    base_top = keys(loaded.query(COLLECTION, query))
    everything = query.model_copy(update={"limit": len(CORPUS)})
    base_scores = {p.id: round(p.score, 6) for p in loaded.query(COLLECTION, everything)}
    adapted = loaded.query(COLLECTION, query.model_copy(update={"dense_space": space, "with_vectors": True}))
    if mode is SearchMode.DENSE:
        assert base_top == ["beta"] and keys(adapted) == ["alpha"]
    assert adapted[0].dense == pytest.approx(rotated[adapted[0].id], abs=1e-6)
    loaded.drop_dense_space(COLLECTION, space)
    assert loaded.dense_spaces(COLLECTION) == [fields.DENSE_VECTOR]
    # The base space answers as before (every hit, every score: the order of exact ties is the engine's).
    assert {p.id: round(p.score, 6) for p in loaded.query(COLLECTION, everything)} == base_scores
    with pytest.raises(InvalidRequestError, match="base"):
        loaded.drop_dense_space(COLLECTION, fields.DENSE_VECTOR)


def test_upsert_fills_extra_dense_spaces(store: VectorStore, encoder: Bm25Encoder) -> None:
    store.ensure_collection(COLLECTION, dim=DIM)
    store.add_dense_space(COLLECTION, "dense-x", dim=DIM)
    points = encode(encoder, CORPUS[:2])
    points = [p.model_copy(update={"extra_dense": {"dense-x": unit((7, 1.0))}}) for p in points]
    store.upsert(COLLECTION, points)
    assert store.scan(COLLECTION, offset=None, limit=10, missing="dense-x")[0] == []
    found = store.query(COLLECTION, dense_query(unit((7, 1.0))).model_copy(update={"dense_space": "dense-x"}))
    assert found[0].score == pytest.approx(1.0)


def test_scan_pages_through_every_point_with_its_payload(store: VectorStore, encoder: Bm25Encoder) -> None:
    store.ensure_collection(COLLECTION, dim=DIM)
    store.upsert(COLLECTION, encode(encoder, CORPUS))
    seen: dict[str, dict[str, Any]] = {}
    offset: str | None = None
    while True:
        page, offset = store.scan(COLLECTION, offset=offset, limit=3)
        seen.update(page)
        if offset is None:
            break
    assert set(seen) == {pid(d.key) for d in CORPUS}
    assert seen[pid("alpha")][fields.TEXT] == CORPUS[0].text


def test_stores_refuse_convex_hybrid(loaded: VectorStore, encoder: Bm25Encoder) -> None:
    query = store_query(SearchMode.HYBRID, dense=unit((0, 1.0)), sparse=encoder.encode_query("apples"), convex=True)
    with pytest.raises(InvalidRequestError, match="searcher"):
        loaded.query(COLLECTION, query)
