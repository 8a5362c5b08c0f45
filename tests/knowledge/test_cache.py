"""The generation cache is scoped: an entry written for one tenant is not read for another."""

from __future__ import annotations

from pathlib import Path

from kernel.ids import sha256_text
from knowledge.cache import GenerationCache, content_key


def test_entries_are_visible_within_their_scope_only(tmp_path: Path) -> None:
    cache = GenerationCache.open(tmp_path)
    key = {"model_id": "teacher", "prompt_version": "chunk.v1"}
    cache.put("a passage", {"summary": "alpha's"}, completion_tokens=3, seconds=0.1, scope="alpha", **key)
    assert cache.get("a passage", scope="alpha", **key) == {"summary": "alpha's"}
    assert cache.get("a passage", scope="beta", **key) is None
    assert cache.get("a passage", **key) is None  # nor for the open service
    cache.put("a passage", {"summary": "open"}, completion_tokens=3, seconds=0.1, **key)
    assert cache.get("a passage", **key) == {"summary": "open"}
    assert cache.get("a passage", scope="alpha", **key) == {"summary": "alpha's"}


def test_the_open_scope_keeps_the_plain_content_hash() -> None:
    # Caches written before scopes existed (CLI, evaluations) still answer the open service.
    assert content_key("text") == sha256_text("text")
    assert content_key("text", "alpha") != content_key("text", "beta") != content_key("text")


KEY = {"model_id": "teacher", "prompt_version": "chunk.v1"}


def _put(cache: GenerationCache, text: str, owner: str = "") -> None:
    cache.put(text, {"summary": text}, completion_tokens=3, seconds=0.1, scope="alpha", owner=owner, **KEY)


def test_deleting_an_owner_removes_the_entries_only_it_used(tmp_path: Path) -> None:
    cache = GenerationCache.open(tmp_path)
    _put(cache, "only in doc-1", owner="doc-1")
    _put(cache, "in both", owner="doc-1")
    assert cache.get("in both", scope="alpha", owner="doc-2", **KEY) is not None  # doc-2 hits it: a user too
    _put(cache, "written before owners were recorded")

    assert cache.delete_owner("doc-1") == 1
    assert cache.get("only in doc-1", scope="alpha", **KEY) is None
    assert cache.get("in both", scope="alpha", **KEY) == {"summary": "in both"}
    assert cache.get("written before owners were recorded", scope="alpha", **KEY) is not None
    assert cache.delete_owner("doc-1") == 0  # idempotent: a crashed deletion runs it again

    assert cache.delete_owner("doc-2") == 1
    assert cache.get("in both", scope="alpha", **KEY) is None
    assert cache.get("written before owners were recorded", scope="alpha", **KEY) is not None


def test_a_miss_records_no_owner(tmp_path: Path) -> None:
    cache = GenerationCache.open(tmp_path)
    assert cache.get("never generated", scope="alpha", owner="doc-1", **KEY) is None
    _put(cache, "never generated")  # written later without an owner: kept, doc-1 never used it
    assert cache.delete_owner("doc-1") == 0
    assert cache.get("never generated", scope="alpha", **KEY) is not None
