"""Parse the JSON object a small model wrote: escape raw control chars, drop fences, close cut output."""

from __future__ import annotations

import json
import re
from typing import Any

from kernel.errors import ModelError

_FENCE_OPEN = re.compile(r"^```[\w-]*[ \t]*\n?")
_FENCE_CLOSE = re.compile(r"\n?```\s*$")
_PARTIAL_UNICODE_ESCAPE = re.compile(r"\\u[0-9a-fA-F]{0,3}$")
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_CLOSERS = {"{": "}", "[": "]"}


def parse_json_object(text: str) -> dict[str, Any]:
    """Parse the first JSON object in ``text``, repairing what grammar-constrained small models break.

    Raw newlines/tabs inside strings are escaped, code fences and prose around the object are
    ignored, and output cut mid-way (unclosed string, brackets, dangling key or comma) is closed,
    dropping the unfinished member. Raises ``ModelError`` when no object can be recovered.
    """
    body = _FENCE_CLOSE.sub("", _FENCE_OPEN.sub("", text.strip()))
    start = body.find("{")
    if start < 0:
        raise ModelError(f"model output holds no JSON object: {_preview(text)}")
    scan = _scan(body[start:])
    if scan.complete:
        return _loads(scan.out, text)
    # Truncated: first keep the unfinished value (a cut string is still useful text) ...
    tail = scan.out
    if scan.in_string:
        tail = _PARTIAL_UNICODE_ESCAPE.sub("", tail.removesuffix("\\") if scan.escaped else tail) + '"'
    candidate = _try_loads(tail + _closing(scan.stack))
    if candidate is not None:
        return candidate
    # ... else cut back to the last point where every open container was in a valid state.
    cut, stack = scan.safe_points[-1]
    return _loads(scan.out[:cut] + _closing(stack), text)


class _Scan:
    """Result of one pass over the text: escaped output and where it could be cut and closed."""

    def __init__(self) -> None:
        self.out = ""
        self.stack: list[str] = []
        self.in_string = False
        self.escaped = False
        self.complete = False
        # (length of out, open containers) at positions where closing the containers gives valid JSON.
        self.safe_points: list[tuple[int, list[str]]] = []


def _scan(text: str) -> _Scan:
    scan = _Scan()
    parts: list[str] = []
    length = 0
    for char in text:
        piece = char
        if scan.in_string:
            if scan.escaped:
                scan.escaped = False
            elif char == "\\":
                scan.escaped = True
            elif char == '"':
                scan.in_string = False
            elif char < " ":
                # The grammar allows raw control characters in strings; json.loads does not.
                piece = _CONTROL_ESCAPES.get(char, f"\\u{ord(char):04x}")
        elif char == '"':
            scan.in_string = True
        elif char in _CLOSERS:
            scan.stack.append(char)
            scan.safe_points.append((length + 1, list(scan.stack)))
        elif char in "}]":
            if not scan.stack:
                break
            scan.stack.pop()
            if not scan.stack:
                parts.append(piece)
                scan.complete = True
                break
            scan.safe_points.append((length + 1, list(scan.stack)))
        elif char == ",":
            # Everything before a separator is a finished member.
            scan.safe_points.append((length, list(scan.stack)))
        parts.append(piece)
        length += len(piece)
    scan.out = "".join(parts)
    return scan


def _closing(stack: list[str]) -> str:
    return "".join(_CLOSERS[opener] for opener in reversed(stack))


def _try_loads(candidate: str) -> dict[str, Any] | None:
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _loads(candidate: str, original: str) -> dict[str, Any]:
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at {exc.pos}"
        raise ModelError(f"model output is not valid JSON ({reason}): {_preview(original)}") from exc
    if not isinstance(value, dict):
        raise ModelError(f"model output is JSON but not an object: {_preview(original)}")
    return value


def _preview(text: str) -> str:
    return repr(text[:120]) + ("..." if len(text) > 120 else "")
