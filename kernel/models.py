"""Domain models shared by every pipeline stage."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Section(_Model):
    """A span of a document's text with its place in the original (page or heading)."""

    start: int = Field(ge=0, description="Start character offset in Document.text.")
    end: int = Field(ge=0, description="End character offset (exclusive) in Document.text.")
    page: int | None = Field(default=None, description="1-based page number, for paged formats.")
    heading: str | None = Field(default=None, description="Nearest heading above this span.")
    level: int = Field(default=0, description="Heading level (1 = top) if this span is a heading.")


class Document(_Model):
    """A parsed document: its plain text and a map back to pages/sections."""

    source: str = Field(description="Original file name (no directories).")
    format: str = Field(description="Parser used: txt, markdown, html, pdf, docx.")
    title: str
    text: str
    sections: list[Section] = Field(
        default_factory=list,
        description="Ordered, non-overlapping spans covering the text (headings and blocks).",
    )
    metadata: dict[str, Any] = Field(default_factory=dict)


class Chunk(_Model):
    """A bounded piece of a document's text, with its source for citations."""

    document_id: str
    index: int = Field(ge=0)
    text: str
    start: int = Field(ge=0, description="Start character offset in the document text.")
    end: int = Field(ge=0, description="End character offset (exclusive).")
    page: int | None = None
    heading: str | None = None
    n_tokens: int = Field(ge=0, description="Length in embedding-model word pieces.")


class SparseVec(_Model):
    """A sparse vector (BM25 term weights)."""

    indices: list[int]
    values: list[float]


class PointKind(StrEnum):
    """What a stored point represents."""

    CHUNK = "chunk"
    QUESTION = "question"
    SUMMARY = "summary"
    KEYWORDS = "keywords"
    QUERY = "query"
    EXPANSION = "expansion"


#: The kinds of point synthesis writes: everything the teacher generates, as opposed to raw chunks.
#: They live in the collection's synthetic companion (:func:`kernel.tenancy.synthetic_collection`),
#: never beside the chunks, so that they cannot change chunk-only search or its BM25 statistics.
SYNTHETIC_KINDS: tuple[PointKind, ...] = (
    PointKind.QUESTION,
    PointKind.SUMMARY,
    PointKind.KEYWORDS,
    PointKind.QUERY,
    PointKind.EXPANSION,
)


class StoredPoint(_Model):
    """One point to write to the vector store."""

    id: str = Field(description="UUID string, derived from content.")
    dense: list[float]
    sparse: SparseVec
    payload: dict[str, Any]
    extra_dense: dict[str, list[float]] = Field(
        default_factory=dict, description="Vectors of the collection's adapted dense spaces, by space name."
    )


class SearchMode(StrEnum):
    """Retrieval modes."""

    BM25 = "bm25"
    DENSE = "dense"
    HYBRID = "hybrid"
    HYBRID_MMR = "hybrid-mmr"


class Fusion(StrEnum):
    """How hybrid search joins its dense and BM25 arms."""

    RRF = "rrf"
    CONVEX = "convex"


class Diversity(StrEnum):
    """How a search's top hits are re-ordered after ranking (``retrieval.diversity``).

    ``none`` keeps the ranking; ``per-document`` lets at most N chunks of one document come before
    the chunks of other documents; ``near-duplicates`` moves a chunk that repeats an earlier one (dense
    cosine at or above a threshold, or most of the same document span) behind the others; ``coverage``
    ranks documents by a fitted relevance estimate and places chunks by expected gain (``retrieval.coverage``);
    ``auto`` is ``coverage`` when the candidates come from short documents and ``near-duplicates`` otherwise
    (decided per search, :func:`retrieval.coverage.auto_method`).
    """

    NONE = "none"
    PER_DOCUMENT = "per-document"
    NEAR_DUPLICATES = "near-duplicates"
    COVERAGE = "coverage"
    AUTO = "auto"


_METADATA_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")


def _metadata_key(key: str) -> str:
    if not _METADATA_KEY.fullmatch(key):
        raise ValueError(f"metadata filter keys are 1-64 letters, digits, '_' or '-' (got {key[:70]!r})")
    return key


#: A metadata key a filter can name: the store reads it as a path, so no brackets, dots or spaces.
MetadataKey = Annotated[str, AfterValidator(_metadata_key)]


class SearchFilters(_Model):
    """Metadata filters; all given conditions must hold."""

    document_ids: list[str] | None = Field(default=None, description="Only these documents.")
    tags: list[str] | None = Field(default=None, description="Documents carrying any of these tags.")
    kinds: list[PointKind] | None = Field(default=None, description="Only these point kinds.")
    chunk_ids: list[str] | None = Field(
        default=None, description="Only points of these chunks (a chunk's own id, or a synthetic item's parent)."
    )
    metadata: dict[MetadataKey, str | list[str]] | None = Field(
        default=None,
        description="Document metadata that must match, e.g. {'doc_type': 'report'}; a list accepts any of its values.",
    )


class StoreQuery(_Model):
    """A query as the vector store sees it: vectors already computed.

    The fusion parameters have no defaults: their one source is the settings, which every caller passes.
    """

    mode: SearchMode
    limit: int = Field(ge=1)
    dense: list[float] | None = None
    sparse: SparseVec | None = None
    filters: SearchFilters | None = None
    prefetch_limit: int = Field(ge=1, description="Candidates per arm for hybrid.")
    rrf_k: int = Field(ge=1, description="RRF rank constant.")
    mmr_diversity: float = Field(ge=0.0, le=1.0, description="MMR diversity (0 = none).")
    mmr_candidates: int = Field(ge=1, description="Candidates MMR picks from.")
    with_vectors: bool = Field(default=False, description="Return each point's dense vector too.")
    dense_space: str = Field(
        default="dense", description="Named dense vector the dense arm searches (an adapted space or the base one)."
    )
    convex: bool = Field(
        default=False, description="Hybrid by convex score fusion: the searcher runs the arms and fuses them itself."
    )


class VectorLayout(_Model):
    """How a store keeps a new collection's dense vectors (existing collections keep theirs)."""

    quantization: Literal["none", "int8"] = Field(
        default="none", description="int8: a scalar-quantized copy (4x smaller) is searched, originals rescore."
    )
    on_disk: bool = Field(default=False, description="Original vectors memory-mapped from disk, not held in RAM.")
    oversampling: float = Field(
        default=2.0, ge=1.0, le=16.0, description="Quantized candidates per wanted hit, rescored with the originals."
    )


class ScoredPoint(_Model):
    """A point returned by the store."""

    id: str
    score: float
    payload: dict[str, Any]
    dense: list[float] | None = Field(default=None, description="The dense vector, when the query asked for it.")


class Hit(_Model):
    """A search result as users see it."""

    id: str
    score: float
    text: str
    document_id: str
    chunk_index: int | None = None
    kind: str = PointKind.CHUNK.value
    source: str = Field(description="Original file name.")
    title: str | None = None
    page: int | None = None
    heading: str | None = None
    start: int | None = None
    end: int | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    context: str | None = Field(
        default=None, description="Header indexed with the chunk: title, organisation, period, section."
    )
    matched_kind: str | None = Field(
        default=None, description="Synthetic item kind (question, summary, keywords) that best matched this chunk."
    )
    matched_text: str | None = Field(default=None, description="Text of that synthetic item.")


class ChatMessage(_Model):
    """One message of a chat conversation."""

    role: str = Field(pattern="^(system|user|assistant)$")
    content: str


class GenerationParams(_Model):
    """Sampling settings for one generation."""

    max_tokens: int = Field(default=256, ge=1, le=8192)
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list)
    repeat_penalty: float = Field(
        default=1.0, ge=1.0, le=2.0, description="llama.cpp penalty on tokens of the last 64 (1 = none)."
    )


class Completion(_Model):
    """Result of a non-streaming generation."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


#: Why generation ended: the model finished, it reached ``max_tokens``, or it began to repeat itself.
StopReason = Literal["stop", "length", "repetition"]


class AnswerMode(StrEnum):
    """How an answer is written: by the model, as quotes of the sources, or the model with quotes as fallback."""

    GENERATED = "generated"
    EXTRACTIVE = "extractive"
    COMBINED = "combined"


class Citation(_Model):
    """A numbered source an answer cites, with the quoted span of the original document."""

    number: int = Field(ge=1, description="The [n] used in the answer text.")
    document_id: str
    source: str = Field(description="Original file name.")
    title: str | None = None
    page: int | None = None
    start: int | None = Field(default=None, description="Start offset of the quote in the document text.")
    end: int | None = Field(default=None, description="End offset (exclusive) of the quote.")
    quote: str = Field(description="The cited text, exactly as it appears in the document.")


class Answer(_Model):
    """A grounded answer: text with [n] markers, the citations they map to, and the hits used."""

    answer: str
    citations: list[Citation]
    hits: list[Hit]
    refused: bool = Field(default=False, description="True when the documents did not support an answer.")
    invalid_citations: list[int] = Field(
        default_factory=list,
        description="Citation numbers the model produced that match no source (removed).",
    )
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    mode: Literal["generated", "extractive"] = Field(
        default="generated",
        description="generated = written by the model; extractive = sentences quoted from the sources.",
    )
    stop_reason: StopReason = Field(
        default="stop",
        description="How generation ended: stop (model ended), length (max tokens) or repetition (cut "
        "before the answer repeated itself).",
    )
    unsupported: list[str] = Field(
        default_factory=list,
        description="Generated sentences whose words the sources do not contain (dropped in combined mode, "
        "marked [unsupported] in generated mode).",
    )
