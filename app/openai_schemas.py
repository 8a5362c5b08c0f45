"""Request/response models of the OpenAI-compatible chat API (the subset chat clients use)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.text_input import TextRequest
from kernel.models import Answer, Hit


class ContentPart(BaseModel):
    """One part of a multi-part message; only text parts are understood."""

    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class ChatTurn(BaseModel):
    """A message as OpenAI clients send it."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatCompletionRequest(TextRequest):
    """Body of ``POST /v1/chat/completions``; unknown OpenAI parameters are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="A collection name, or 'synthrag' for the default collection.")
    messages: list[ChatTurn] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    n: int = Field(default=1, ge=1, le=1, description="Only one choice is supported.")

    @field_validator("messages")
    @classmethod
    def _ends_with_user(cls, value: list[ChatTurn]) -> list[ChatTurn]:
        if value[-1].role != "user" or not value[-1].text().strip():
            raise ValueError("the last message must be a non-empty user message (the question)")
        return value


class SourceRef(BaseModel):
    """A retrieved source as numbered in the prompt ([n])."""

    number: int
    document_id: str
    source: str
    page: int | None = None
    start: int | None = None
    end: int | None = None
    text: str

    @classmethod
    def from_hit(cls, number: int, hit: Hit) -> SourceRef:
        """Number a hit."""
        return cls(
            number=number,
            document_id=hit.document_id,
            source=hit.source,
            page=hit.page,
            start=hit.start,
            end=hit.end,
            text=hit.text,
        )


def extras(answer: Answer) -> dict[str, Any]:
    """Fields standard clients ignore: the sources behind the answer and how it was written."""
    return {
        "sources": [SourceRef.from_hit(i, h).model_dump() for i, h in enumerate(answer.hits, 1)],
        "citations": [c.model_dump() for c in answer.citations],
        "refused": answer.refused,
        "mode": answer.mode,
        "stop_reason": answer.stop_reason,
        "unsupported": answer.unsupported,
    }
