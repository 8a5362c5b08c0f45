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
