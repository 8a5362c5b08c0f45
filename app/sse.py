"""Server-Sent Events framing."""

from __future__ import annotations

import json


def sse(data: object, *, event: str | None = None) -> str:
    """One SSE message: optional ``event:`` line, one ``data:`` line of JSON (or a raw string)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
