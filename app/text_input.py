"""Request text that the models and the store can take: no lone UTF-16 surrogates anywhere in a body.

JSON may spell a lone surrogate (``"\\ud800"``); Python keeps it in a ``str`` that no UTF-8 encoder,
tokenizer or store accepts. Request models reject such text at validation (422, with where it was).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, model_validator

_SURROGATE = re.compile("[\ud800-\udfff]")
#: How deep a body is searched (bodies are small, flat objects; deeper nesting is not ours to accept).
_MAX_DEPTH = 32


def lone_surrogate_at(value: Any, path: str = "", depth: int = 0) -> str | None:
    """The path of the first string holding a lone surrogate in ``value`` (dicts, lists, strings), or None."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if depth >= _MAX_DEPTH:
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _SURROGATE.search(key):
                return f"{path or 'a'} key"
            if (found := lone_surrogate_at(item, f"{path}.{key}" if path else str(key), depth + 1)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := lone_surrogate_at(item, f"{path}[{index}]", depth + 1)) is not None:
                return found
    return None


class TextRequest(BaseModel):
    """A request body whose text must be valid Unicode (see the module doc)."""

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        if (where := lone_surrogate_at(data)) is not None:
            raise ValueError(
                f"{where or 'the body'} holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), "
                "which is not text; send valid UTF-8"
            )
        return data
