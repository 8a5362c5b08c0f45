"""Versioned prompt files."""

from __future__ import annotations

import pytest

from kernel.errors import ConfigError
from knowledge.prompts import CHUNK_PROMPT, DOCUMENT_PROMPT, load_prompt


def test_prompt_values_are_filled_and_part_of_the_version() -> None:
    two = load_prompt(CHUNK_PROMPT, questions=2)
    three = load_prompt(CHUNK_PROMPT, questions=3)
    assert "2 different questions" in two.system
    assert two.version == "chunk.v1/questions=2"
    assert two.version != three.version


def test_document_prompt_loads() -> None:
    prompt = load_prompt(DOCUMENT_PROMPT)
    assert prompt.version == "document.v1"
    assert "entities" in prompt.system


def test_missing_prompt_file_and_missing_value_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"nope\.v9\.txt"):
        load_prompt("nope.v9")
    with pytest.raises(ConfigError, match="questions"):
        load_prompt(CHUNK_PROMPT)
