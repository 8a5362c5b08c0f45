"""Request and response models of the REST API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.text_input import TextRequest
from ingest.catalog import DocumentRecord
from ingest.jobs import JobRecord
from ingest.uploads import UploadResult
from kernel.models import AnswerMode, Diversity, Hit, SearchFilters, SearchMode
from kernel.tenancy import CollectionName, logical_collection
from retrieval.preference import QueryInterpretation
from retrieval.results import SearchTimings
from retrieval.search import MAX_QUERY_CHARS


class SearchRequest(TextRequest):
    """Body of ``POST /v1/search``."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="What to search for.")
    k: int = Field(default=10, ge=1, le=100, description="Number of hits to return.")
    mode: SearchMode | None = Field(default=None, description="bm25, dense, hybrid or hybrid-mmr.")
    collection: CollectionName | None = Field(default=None, description="Collection; default from settings.")
    filters: SearchFilters | None = Field(default=None, description="Restrict to documents / tags / kinds.")
    mmr_diversity: float | None = Field(
        default=None, ge=0.0, le=1.0, description="hybrid-mmr only: 0 = pure relevance, 1 = max diversity."
    )
    synthetic: bool | None = Field(
        default=None, description="Also match synthetic items (fused onto their chunks); default from settings."
    )
    diversity: Diversity | None = Field(
        default=None,
        description="Re-order the hits: none, per-document, near-duplicates, coverage or auto (coverage over short "
        "documents, near-duplicates over long ones); default from settings (SYNTHRAG_SEARCH_DIVERSITY).",
    )


class SearchResponse(BaseModel):
    """Body returned by ``POST /v1/search``."""

    collection: str
    mode: SearchMode
    hits: list[Hit]
    timings: SearchTimings
    interpretation: QueryInterpretation | None = Field(
        default=None, description="Periods/organisations the query named that documents carry; preferred first."
    )


class Health(BaseModel):
    """Body of ``GET /healthz``."""

    status: str = "ok"
    version: str


class AnswerRequest(TextRequest):
    """Body of ``POST /v1/answer``."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The question to answer.")
    k: int | None = Field(default=None, ge=1, le=20, description="Sources to retrieve; default from settings.")
    mode: SearchMode | None = Field(default=None, description="Retrieval mode.")
    collection: CollectionName | None = Field(default=None, description="Collection; default from settings.")
    filters: SearchFilters | None = Field(default=None, description="Restrict retrieval.")
    stream: bool = Field(default=False, description="Server-Sent Events: token events, then a final event.")
    max_tokens: int | None = Field(default=None, ge=1, le=4096, description="Longest answer in tokens.")
    answer_mode: AnswerMode | None = Field(
        default=None,
        description="generated, extractive or combined (model text, source quotes when it is not grounded); "
        "default from settings.",
    )


class JobProgress(BaseModel):
    """Chunks embedded and stored so far."""

    chunks_done: int
    chunks_total: int


class JobView(BaseModel):
    """A job as the API shows it."""

    id: str
    document_id: str
    source: str
    collection: str
    state: str = Field(description="queued, running, done, failed or cancelled.")
    stage: str
    progress: JobProgress
    attempts: int
    max_attempts: int
    error: str | None
    created_at: float
    updated_at: float

    @classmethod
    def from_record(cls, job: JobRecord, tenant: str) -> JobView:
        """Shape a stored job for its tenant."""
        return cls(
            id=job.id,
            document_id=job.document_id,
            source=job.source,
            collection=logical_collection(tenant, job.collection) or job.collection,
            state=job.state,
            stage=job.stage,
            progress=JobProgress(chunks_done=job.chunks_done, chunks_total=job.chunks_total),
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            error=job.error,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )


class DocumentView(BaseModel):
    """A catalogued document."""

    id: str
    source: str
    collection: str
    format: str
    size: int
    content_sha256: str
    status: str
    chunks: int
    error: str | None
    tags: list[str]
    metadata: dict[str, Any]
    created_at: float
    updated_at: float
    job: JobView | None = None

    @classmethod
    def from_record(cls, record: DocumentRecord, *, job: JobView | None = None) -> DocumentView:
        """Shape a catalog record."""
        data = record.model_dump(exclude={"tenant"})
        return cls(**data, job=job)


class DocumentList(BaseModel):
    """A page of documents."""

    documents: list[DocumentView]
    total: int
    limit: int
    offset: int


class UploadResponse(BaseModel):
    """One result per uploaded file, each with its job."""

    results: list[UploadResult]
