"""What searches read from a collection's metadata (teacher profile, document context), through a short-lived cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kernel.ports import CollectionAdmin
from knowledge.profile import TeacherProfile, stored_profile
from retrieval.preference import CONTEXT_KEY
from retrieval.spaces import WouldBlock

#: Seconds a metadata read stays fresh: a newly calibrated profile takes effect within this time.
PROFILE_TTL_S = 5.0


class _MetadataCache:
    """``read(collection)`` -> the collection's metadata, re-read at most every ``ttl_s``."""

    def __init__(self, admin: CollectionAdmin, *, ttl_s: float, clock: Callable[[], float]) -> None:
        self._admin = admin
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def read(self, collection: str, *, cached_only: bool = False) -> dict[str, Any]:
        """The metadata; raises WouldBlock when ``cached_only`` and it must be read from the store."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(collection)
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        if cached_only:
            raise WouldBlock(collection)
        metadata = self._admin.get_metadata(collection)
        with self._lock:
            self._cache[collection] = (now, metadata)
        return metadata


class CollectionProfiles:
    """``lookup(collection)`` -> the collection's stored profile (or None), re-read at most every ``ttl_s``."""

    def __init__(
        self, admin: CollectionAdmin, *, ttl_s: float = PROFILE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._metadata = _MetadataCache(admin, ttl_s=ttl_s, clock=clock)

    def __call__(self, collection: str, *, cached_only: bool = False) -> TeacherProfile | None:
        """The profile; raises WouldBlock when ``cached_only`` and the metadata must be read from the store."""
        return stored_profile(self._metadata.read(collection, cached_only=cached_only))

    def context(self, collection: str) -> tuple[list[str], list[str]]:
        """(periods, organisations) of the collection's documents, as recorded at ingest."""
        stored = self._metadata.read(collection).get(CONTEXT_KEY)
        if not isinstance(stored, dict):
            return [], []
        periods = [p for p in stored.get("periods", []) if isinstance(p, str)]
        organisations = [o for o in stored.get("organisations", []) if isinstance(o, str)]
        return periods, organisations
