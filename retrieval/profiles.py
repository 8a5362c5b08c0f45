"""The teacher profile stored with each collection, read through a short-lived cache (searches are hot)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kernel.ports import CollectionAdmin
from knowledge.profile import TeacherProfile, stored_profile

#: Seconds a profile read stays fresh: a newly calibrated profile takes effect within this time.
PROFILE_TTL_S = 5.0


class CollectionProfiles:
    """``lookup(collection)`` -> the collection's stored profile (or None), re-read at most every ``ttl_s``."""

    def __init__(
        self, admin: CollectionAdmin, *, ttl_s: float = PROFILE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._admin = admin
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, TeacherProfile | None]] = {}

    def __call__(self, collection: str) -> TeacherProfile | None:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(collection)
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        profile = stored_profile(self._admin.get_metadata(collection))
        with self._lock:
            self._cache[collection] = (now, profile)
        return profile
