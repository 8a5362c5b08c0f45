"""Which dense space a collection searches: the base embedder's (``dense``) or an adapted one.

A collection adapted by ``synthrag adapt`` records in its metadata (key ``dense_space``) the
``active`` space (named vector + the model folder that fills it) and, while one is being filled, the
``staging`` space. Searches embed with the active space's model and search its named vector; writes
fill every live space. A search reads the record once, so it never mixes two spaces, and a space
stays in the store after it stops being active (it is dropped by the next adaptation), so searches
that read the record just before a switch still find it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError

from kernel.errors import ConfigError
from kernel.payload import DENSE_VECTOR
from kernel.ports import CollectionAdmin, Embedder

#: Collection metadata key of the dense-space record.
SPACE_KEY = "dense_space"
#: Seconds a search may use a cached record: a switch reaches every process within this time.
SPACE_TTL_S = 2.0
#: Adapted models kept loaded at once (each ~90 MB of weights).
LOADED_MODELS = 4


class SpaceInfo(BaseModel):
    """One adapted dense space: its named vector and the model folder that fills it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    model_path: str
    version: str


class SpaceRecord(BaseModel):
    """The ``dense_space`` metadata of a collection."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    active: SpaceInfo | None = None
    staging: SpaceInfo | None = None


def space_record(metadata: dict[str, Any]) -> SpaceRecord:
    """The record stored in collection metadata (an unreadable one counts as none: the base space)."""
    raw = metadata.get(SPACE_KEY)
    if not isinstance(raw, dict):
        return SpaceRecord()
    try:
        return SpaceRecord.model_validate(raw)
    except ValidationError:
        return SpaceRecord()


class WouldBlock(Exception):  # noqa: N818 - control flow, not an error a user sees
    """A ``cached_only`` read found nothing fresh in memory: the answer needs I/O or a model load."""


class QueryVector(NamedTuple):
    """A query's dense vector and the space it belongs to."""

    space: str
    values: list[float]


class ModelCache:
    """Adapted embedders by model folder, loaded on first use, the least recently used dropped."""

    def __init__(self, load: Callable[[Path], Embedder], *, size: int = LOADED_MODELS) -> None:
        self._load = load
        self._size = size
        self._lock = threading.Lock()
        self._models: OrderedDict[str, Embedder] = OrderedDict()

    def get(self, path: str, *, cached_only: bool = False) -> Embedder:
        """The model of ``path``, loaded now if needed (under the lock: one load at a time).

        Raises:
            WouldBlock: ``cached_only`` and the model is not loaded, or a load holds the lock.
        """
        if cached_only:
            if not self._lock.acquire(blocking=False):
                raise WouldBlock(path)
            try:
                model = self._models.get(path)
                if model is None:
                    raise WouldBlock(path)
                self._models.move_to_end(path)
                return model
            finally:
                self._lock.release()
        with self._lock:
            model = self._models.get(path)
            if model is None:
                model = self._load(Path(path))
                self._models[path] = model
                while len(self._models) > self._size:
                    self._models.popitem(last=False)
            self._models.move_to_end(path)
            return model


class CollectionSpaces:
    """``for_search(collection)`` -> (space, embedder); ``for_writes`` -> the adapted spaces a write must fill."""

    def __init__(
        self,
        admin: CollectionAdmin,
        base: Embedder,
        models: ModelCache,
        *,
        ttl_s: float = SPACE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._admin = admin
        self._base = base
        self._models = models
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, SpaceRecord]] = {}

    @property
    def base(self) -> Embedder:
        """The service's own embedder (space ``dense``)."""
        return self._base

    def record(self, collection: str, *, fresh: bool = False, cached_only: bool = False) -> SpaceRecord:
        """The collection's record, cached up to ``ttl_s`` unless ``fresh``.

        Raises:
            WouldBlock: ``cached_only`` and the record must be read from the store.
        """
        now = self._clock()
        with self._lock:
            hit = self._cache.get(collection)
        if not fresh and hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        if cached_only:
            raise WouldBlock(collection)
        record = space_record(self._admin.get_metadata(collection))
        with self._lock:
            self._cache[collection] = (now, record)
        return record

    def embedder(self, space: str, record: SpaceRecord) -> Embedder:
        """The embedder that fills ``space`` (the base one for ``dense``)."""
        if space == DENSE_VECTOR:
            return self._base
        for info in (record.active, record.staging):
            if info is not None and info.name == space:
                return self._models.get(info.model_path)
        raise KeyError(space)

    def for_search(self, collection: str, *, cached_only: bool = False) -> tuple[str, Embedder]:
        """The space searches use and its embedder (the base ones unless an adapted space is active).

        Raises:
            WouldBlock: ``cached_only`` and the answer needs a store read or a model load.
        """
        active = self.record(collection, cached_only=cached_only).active
        if active is None:
            return DENSE_VECTOR, self._base
        return active.name, self._models.get(active.model_path, cached_only=cached_only)

    def for_writes(self, collection: str) -> list[tuple[str, Embedder]]:
        """Adapted spaces new points must also fill (active and staging), read fresh.

        A staging model that cannot be loaded is skipped: its adaptation was just refused and deleted
        (and a space still being filled gets a last pass for whatever it missed).
        """
        record = self.record(collection, fresh=True)
        out = []
        if record.active is not None:
            out.append((record.active.name, self._models.get(record.active.model_path)))
        if record.staging is not None:
            with contextlib.suppress(ConfigError):
                out.append((record.staging.name, self._models.get(record.staging.model_path)))
        return out
