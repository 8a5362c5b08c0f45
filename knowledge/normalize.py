"""Bring parsed teacher output within the schemas' bounds before pydantic validates it (small models overrun them)."""

from __future__ import annotations

from typing import Any

from knowledge import schemas as S


def _clip(value: Any, limit: int) -> str:
    return " ".join(str(value).split())[:limit].strip() if isinstance(value, str | int | float) else ""


def _strings(values: Any, *, limit: int, max_items: int, min_length: int = 2) -> list[str]:
    if not isinstance(values, list):
        return []
    out = [_clip(v, limit) for v in values]
    return list(dict.fromkeys(v for v in out if len(v) >= min_length))[:max_items]


def normalize_chunk(raw: dict[str, Any], *, questions: int) -> dict[str, Any]:
    """Chunk notes cut to the schema's bounds: clipped strings, deduplicated lists, complete Q&A pairs only."""
    pairs: list[dict[str, str]] = []
    items = raw.get("questions")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        question, answer = _clip(item.get("question"), S.QUESTION_MAX), _clip(item.get("answer"), S.ANSWER_MAX)
        if len(question) >= 8 and answer:
            pairs.append({"question": question, "answer": answer})
    out: dict[str, Any] = {
        "keywords": _strings(raw.get("keywords"), limit=S.KEYWORD_MAX, max_items=S.KEYWORDS_MAX_ITEMS),
        "summary": _clip(raw.get("summary"), S.SUMMARY_MAX),
        "questions": pairs[:questions],
    }
    # Only prompts that ask for queries get the key (a JSON reply without it is not "repaired").
    if "queries" in raw:
        out["queries"] = _strings(
            raw.get("queries"), limit=S.QUERY_MAX, max_items=S.QUERIES_MAX_ITEMS, min_length=S.QUERY_MIN
        )
    return out


def normalize_document(raw: dict[str, Any]) -> dict[str, Any]:
    """Document notes cut to the schema's bounds; an unknown document type becomes "other"."""
    kind = _clip(raw.get("type"), 40).lower()
    return {
        "title": _clip(raw.get("title"), S.TITLE_MAX),
        "type": kind if kind in S.DOCUMENT_TYPES else "other",
        "summary": _clip(raw.get("summary"), S.DOC_SUMMARY_MAX),
        "entities": _strings(raw.get("entities"), limit=S.ENTITY_MAX, max_items=S.ENTITIES_MAX_ITEMS),
        "dates": _strings(raw.get("dates"), limit=S.DATE_MAX, max_items=S.DATES_MAX_ITEMS),
    }
