"""Versioned prompt files: ``prompts/<name>.v<N>.txt``; the version is part of every cache key."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from kernel.errors import ConfigError

#: The prompt files in use. Bump the version (new file) whenever a prompt or its schema changes.
#: chunk.v2 asks for compact tagged lines (knowledge/compact.py); chunk.v1 for grammar-constrained JSON.
CHUNK_PROMPT = "chunk.v1"
#: Chunk prompts whose replies are JSON under a schema (every later version is compact).
JSON_CHUNK_PROMPTS = frozenset({"chunk.v1"})
DOCUMENT_PROMPT = "document.v1"


@dataclass(frozen=True, slots=True)
class Prompt:
    """A system prompt and the version that identifies what it generates."""

    version: str
    system: str


def load_prompt(name: str, **values: object) -> Prompt:
    """Read ``prompts/<name>.txt`` and fill its ``{placeholders}``; values become part of the version."""
    try:
        template = (resources.files("knowledge") / "prompts" / f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"prompt file {name}.txt is missing from knowledge/prompts") from exc
    try:
        system = template.format(**values).strip()
    except KeyError as exc:
        raise ConfigError(f"prompt {name} needs a value for {exc}") from exc
    suffix = "".join(f"/{key}={values[key]}" for key in sorted(values))
    return Prompt(version=f"{name}{suffix}", system=system)
