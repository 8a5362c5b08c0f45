"""Cluster layout settings (shards, replication, write consistency) reach Qdrant's create_collection."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import qdrant_client
from qdrant_client import QdrantClient

from kernel.errors import ConfigError
from kernel.settings import Settings, get_settings
from retrieval.stores.client import ClientStore
from retrieval.stores.factory import create_store


class RecordingClient(QdrantClient):
    """qdrant-client's local mode that remembers the arguments of create_collection."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.created: dict[str, Any] = {}

    def create_collection(self, collection_name: str, **kwargs: Any) -> bool:  # type: ignore[override]
        self.created = kwargs
        return super().create_collection(collection_name, **kwargs)


def test_layout_is_passed_and_local_mode_accepts_it_silently() -> None:
    client = RecordingClient()
    store = ClientStore(client, shards=3, replication=2, write_consistency=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.ensure_collection("sharded", dim=8)
    assert client.created["shard_number"] == 3
    assert client.created["replication_factor"] == 2
    assert client.created["write_consistency_factor"] == 2
    assert store.list_collections() == ["sharded"]
    store.close()


def test_defaults_are_a_single_unreplicated_shard() -> None:
    client = RecordingClient()
    store = ClientStore(client)
    store.ensure_collection("plain", dim=8)
    assert (client.created["shard_number"], client.created["replication_factor"]) == (1, 1)
    store.close()


def test_factory_hands_the_settings_to_the_client_store(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[RecordingClient] = []

    def fake_client(**_kwargs: Any) -> RecordingClient:
        made.append(RecordingClient())
        return made[-1]

    monkeypatch.setattr(qdrant_client, "QdrantClient", fake_client)
    settings = Settings(
        qdrant_url="http://qdrant-node1:6333", qdrant_shards=6, qdrant_replication=3, qdrant_write_consistency=2
    )
    store = create_store(settings)
    assert isinstance(store, ClientStore)
    store.ensure_collection("docs", dim=4)
    assert made[0].created["shard_number"] == 6
    assert made[0].created["replication_factor"] == 3
    assert made[0].created["write_consistency_factor"] == 2
    store.close()


def test_write_consistency_above_replication_is_refused() -> None:
    with pytest.raises(ConfigError, match="SYNTHRAG_QDRANT_WRITE_CONSISTENCY"):
        get_settings(qdrant_replication=1, qdrant_write_consistency=2)
    with pytest.raises(ConfigError, match="SYNTHRAG_QDRANT_SHARDS"):
        get_settings(qdrant_shards=0)
