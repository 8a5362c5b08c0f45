"""Request and response models of the REST API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kernel.models import Hit, SearchFilters, SearchMode
from kernel.settings import validate_collection_name
from retrieval.search import MAX_QUERY_CHARS, SearchTimings


class SearchRequest(BaseModel):
    """Body of ``POST /v1/search``."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="What to search for.")
    k: int = Field(default=10, ge=1, le=100, description="Number of hits to return.")
    mode: SearchMode | None = Field(default=None, description="bm25, dense, hybrid or hybrid-mmr.")
    collection: str | None = Field(default=None, description="Collection; default from settings.")
    filters: SearchFilters | None = Field(default=None, description="Restrict to documents / tags / kinds.")
    mmr_diversity: float | None = Field(
        default=None, ge=0.0, le=1.0, description="hybrid-mmr only: 0 = pure relevance, 1 = max diversity."
    )

    @field_validator("collection")
    @classmethod
    def _collection(cls, value: str | None) -> str | None:
        return None if value is None else validate_collection_name(value)


class SearchResponse(BaseModel):
    """Body returned by ``POST /v1/search``."""

    collection: str
    mode: SearchMode
    hits: list[Hit]
    timings: SearchTimings


class Health(BaseModel):
    """Body of ``GET /healthz``."""

    status: str = "ok"
    version: str


class AnswerRequest(BaseModel):
    """Body of ``POST /v1/answer``."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The question to answer.")
    k: int | None = Field(
        default=None, ge=1, le=20, description="Sources to retrieve; default from settings."
    )
    mode: SearchMode | None = Field(default=None, description="Retrieval mode.")
    collection: str | None = Field(default=None, description="Collection; default from settings.")
    filters: SearchFilters | None = Field(default=None, description="Restrict retrieval.")
    stream: bool = Field(default=False, description="Server-Sent Events: token events, then a final event.")
    max_tokens: int | None = Field(default=None, ge=1, le=4096, description="Longest answer in tokens.")

    @field_validator("collection")
    @classmethod
    def _collection(cls, value: str | None) -> str | None:
        return None if value is None else validate_collection_name(value)
