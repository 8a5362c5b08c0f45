"""What the teacher must return, as pydantic models (extra=forbid) and the JSON schemas sent to it.

The length bounds keep a small model from rambling (every token costs CPU time) and are part of
the prompt version: changing them changes what is generated.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

QUESTION_MAX = 100
ANSWER_MAX = 48
SUMMARY_MAX = 120
KEYWORD_MAX = 24
KEYWORDS_MAX_ITEMS = 4
QUERY_MIN = 8
QUERY_MAX = 100
QUERIES_MAX_ITEMS = 2
DOC_SUMMARY_MAX = 160
TITLE_MAX = 60
ENTITY_MAX = 30
ENTITIES_MAX_ITEMS = 4
DATES_MAX_ITEMS = 3
DATE_MAX = 20

DocumentType = Literal[
    "research article", "report", "manual", "policy", "contract", "email", "presentation", "notes", "other"
]
DOCUMENT_TYPES: tuple[str, ...] = get_args(DocumentType)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QAPair(_Strict):
    """A question the chunk answers, and the answer taken from it."""

    question: str = Field(min_length=8, max_length=QUESTION_MAX)
    answer: str = Field(min_length=1, max_length=ANSWER_MAX)


class ChunkNotes(_Strict):
    """Synthetic knowledge about one chunk."""

    keywords: list[str] = Field(min_length=1, max_length=KEYWORDS_MAX_ITEMS)
    summary: str = Field(min_length=8, max_length=SUMMARY_MAX)
    questions: list[QAPair] = Field(min_length=1)
    #: Search queries and claims as people type them (prompt chunk.v2 on; chunk.v1 asks for none).
    queries: list[Annotated[str, Field(min_length=QUERY_MIN, max_length=QUERY_MAX)]] = Field(
        default_factory=list, max_length=QUERIES_MAX_ITEMS
    )


class DocumentNotes(_Strict):
    """Synthetic summary and metadata of a whole document."""

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    type: DocumentType
    summary: str = Field(min_length=8, max_length=DOC_SUMMARY_MAX)
    entities: list[str] = Field(default_factory=list, max_length=ENTITIES_MAX_ITEMS)
    dates: list[str] = Field(default_factory=list, max_length=DATES_MAX_ITEMS)


def _string(min_length: int, max_length: int) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def _strings(max_items: int, max_length: int, *, min_items: int = 0) -> dict[str, Any]:
    return {"type": "array", "minItems": min_items, "maxItems": max_items, "items": _string(2, max_length)}


def chunk_schema(questions: int) -> dict[str, Any]:
    """JSON schema of ChunkNotes with exactly up to ``questions`` Q&A pairs (keywords first: they anchor the rest)."""
    return {
        "type": "object",
        "properties": {
            "keywords": _strings(KEYWORDS_MAX_ITEMS, KEYWORD_MAX, min_items=1),
            "summary": _string(8, SUMMARY_MAX),
            "questions": {
                "type": "array",
                "minItems": 1,
                "maxItems": questions,
                "items": {
                    "type": "object",
                    "properties": {"question": _string(8, QUESTION_MAX), "answer": _string(1, ANSWER_MAX)},
                    "required": ["question", "answer"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["keywords", "summary", "questions"],
        "additionalProperties": False,
    }


def document_schema() -> dict[str, Any]:
    """JSON schema of DocumentNotes."""
    return {
        "type": "object",
        "properties": {
            "title": _string(1, TITLE_MAX),
            "type": {"type": "string", "enum": list(DOCUMENT_TYPES)},
            "summary": _string(8, DOC_SUMMARY_MAX),
            "entities": _strings(ENTITIES_MAX_ITEMS, ENTITY_MAX),
            "dates": _strings(DATES_MAX_ITEMS, DATE_MAX),
        },
        "required": ["title", "type", "summary", "entities", "dates"],
        "additionalProperties": False,
    }
