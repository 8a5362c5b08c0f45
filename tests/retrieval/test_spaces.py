"""Which dense space a collection searches: the metadata record, its cache, the model cache (pure logic, fakes)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from kernel.payload import DENSE_VECTOR
from retrieval.spaces import (
    SPACE_KEY,
    CollectionSpaces,
    ModelCache,
    SpaceInfo,
    SpaceRecord,
    WouldBlock,
    space_record,
)


class FakeEmbedder:
    def __init__(self, name: str) -> None:
        self.model_id = name
        self.dim = 3
        self.max_tokens = 10

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0, 0.0] for _ in texts]

    async def embed_async(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]


class FakeAdmin:
    def __init__(self) -> None:
        self.metadata: dict[str, dict[str, Any]] = {}
        self.reads = 0

    def get_metadata(self, collection: str) -> dict[str, Any]:
        self.reads += 1
        return self.metadata.get(collection, {})


def _info(name: str) -> SpaceInfo:
    return SpaceInfo(name=name, model_path=f"/models/{name}", version=name)


def _spaces(admin: FakeAdmin, now: list[float], loads: list[Path]) -> CollectionSpaces:
    def load(path: Path) -> FakeEmbedder:
        loads.append(path)
        return FakeEmbedder(path.name)

    return CollectionSpaces(admin, FakeEmbedder("base"), ModelCache(load, size=1), ttl_s=2.0, clock=lambda: now[0])  # type: ignore[arg-type]


def test_a_collection_without_a_record_searches_the_base_space() -> None:
    spaces = _spaces(FakeAdmin(), [0.0], [])
    space, embedder = spaces.for_search("c")
    assert space == DENSE_VECTOR and embedder.model_id == "base"
    assert spaces.for_writes("c") == []


def test_unreadable_records_count_as_none() -> None:
    assert space_record({SPACE_KEY: "nonsense"}) == SpaceRecord()
    assert space_record({SPACE_KEY: {"active": {"name": 3}}}) == SpaceRecord()


def test_active_space_is_searched_and_written_with_staging_and_cached_for_the_ttl() -> None:
    admin, now, loads = FakeAdmin(), [0.0], list[Path]()
    spaces = _spaces(admin, now, loads)
    admin.metadata["c"] = {SPACE_KEY: SpaceRecord(active=_info("dense-a")).model_dump()}
    assert spaces.for_search("c")[0] == "dense-a"
    admin.metadata["c"] = {SPACE_KEY: SpaceRecord(active=_info("dense-a"), staging=_info("dense-b")).model_dump()}
    # Writes read fresh (a staging space must be filled at once); searches keep their record for the TTL.
    assert [s for s, _ in spaces.for_writes("c")] == ["dense-a", "dense-b"]
    admin.metadata["c"] = {SPACE_KEY: SpaceRecord(active=_info("dense-b")).model_dump()}
    now[0] = 1.0
    reads = admin.reads
    assert spaces.for_search("c")[0] == "dense-a" and admin.reads == reads
    now[0] = 2.5
    assert spaces.for_search("c")[0] == "dense-b"
    spaces.embedder("dense-b", spaces.record("c"))
    # One model kept loaded (size=1): each change of space loads it again, a repeat does not.
    assert [p.name for p in loads] == ["dense-a", "dense-b", "dense-a", "dense-b"]
    with pytest.raises(KeyError):
        spaces.embedder("dense-z", spaces.record("c"))
    assert spaces.embedder(DENSE_VECTOR, spaces.record("c")).model_id == "base"


def test_cached_only_answers_from_memory_or_raises_would_block() -> None:
    admin, now, loads = FakeAdmin(), [0.0], list[Path]()
    spaces = _spaces(admin, now, loads)
    admin.metadata["c"] = {SPACE_KEY: SpaceRecord(active=_info("dense-a")).model_dump()}
    with pytest.raises(WouldBlock):  # nothing read yet: the record needs the store
        spaces.for_search("c", cached_only=True)
    assert admin.reads == 0 and loads == []
    spaces.record("c")
    with pytest.raises(WouldBlock):  # the record is cached, the model not loaded
        spaces.for_search("c", cached_only=True)
    assert loads == []
    spaces.for_search("c")
    reads = admin.reads
    space, embedder = spaces.for_search("c", cached_only=True)
    assert (space, embedder.model_id, admin.reads, len(loads)) == ("dense-a", "dense-a", reads, 1)
    with pytest.raises(WouldBlock):  # a fresh read is I/O
        spaces.record("c", fresh=True, cached_only=True)
    now[0] = 2.5
    with pytest.raises(WouldBlock):  # past the TTL
        spaces.for_search("c", cached_only=True)
    assert admin.reads == reads


def test_cached_only_never_waits_for_a_model_being_loaded() -> None:
    loading, release = threading.Event(), threading.Event()

    def slow_load(path: Path) -> FakeEmbedder:
        if path.name == "new":
            loading.set()
            release.wait(10)
        return FakeEmbedder(path.name)

    cache = ModelCache(slow_load, size=2)
    cache.get("/models/ready")
    loader = threading.Thread(target=cache.get, args=("/models/new",))
    loader.start()
    try:
        assert loading.wait(10)
        with pytest.raises(WouldBlock):  # even a loaded model: the lock is held by a load
            cache.get("/models/ready", cached_only=True)
    finally:
        release.set()
        loader.join(10)
    assert cache.get("/models/ready", cached_only=True).model_id == "ready"
    assert cache.get("/models/new", cached_only=True).model_id == "new"
