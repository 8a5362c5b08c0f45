"""The one Settings class (env prefix ``SYNTHRAG_``), built by :func:`get_settings`."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel.adapt_settings import AdaptSettings
from kernel.errors import ConfigError
from kernel.models import AnswerMode, Diversity, Fusion, SearchMode
from kernel.tenancy import CollectionName, validate_tenant

ENV_PREFIX = "SYNTHRAG_"

log = logging.getLogger(__name__)


class ChatModelSettings(BaseModel):
    """One chat model: local GGUF through llama.cpp, or any OpenAI-compatible server."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["llama-cpp", "openai"] = Field(
        default="llama-cpp", description="llama-cpp (in-process GGUF) or openai (OpenAI-compatible HTTP API)."
    )
    model_path: str = Field(default="", description="GGUF file for llama-cpp; empty = bundled SmolLM2-135M.")
    threads: int = Field(default=2, ge=1, le=256, description="llama.cpp threads (its default is half the cores).")
    context_tokens: int = Field(default=4096, ge=256, le=131072, description="llama.cpp context window.")
    weights: Literal["auto", "file", "bf16", "f16"] = Field(
        default="auto",
        description="llama-cpp: precision the GGUF's weights are computed in. 'file' = as stored; 'bf16'/'f16' = "
        "a copy converted once into weights_dir (same model, widened weights: faster prompt reading and batched "
        "decoding on CPUs with matching instructions); 'auto' = bf16 for the teacher where the CPU has AVX512-BF16 "
        "(files up to 300 MB), else 'file'; the answer model runs 'auto' as 'file'.",
    )
    weights_dir: str = Field(
        default="",
        description="Folder for converted weights; empty = $XDG_CACHE_HOME/synthrag/models (~/.cache/...).",
    )
    flash_attention: bool | None = Field(
        default=None,
        description="llama-cpp: fused attention kernel; unset = on for the teacher, off for the answer model.",
    )
    base_url: str = Field(default="", description="OpenAI-compatible base URL, e.g. http://gpu-box:8000/v1.")
    api_key: SecretStr | None = Field(default=None, description="API key for the OpenAI-compatible server.")
    model_name: str = Field(default="", description="Model name to request from the OpenAI-compatible server.")
    timeout_s: float = Field(default=120.0, gt=0, description="Request timeout for the remote server.")
    max_concurrency: int = Field(default=8, ge=1, le=256, description="Requests in flight to a remote server.")

    @model_validator(mode="after")
    def _remote_needs_url(self) -> ChatModelSettings:
        if self.backend == "openai" and not (self.base_url and self.model_name):
            raise ValueError("backend 'openai' needs base_url and model_name")
        return self


class SynthSettings(BaseModel):
    """Synthetic knowledge: the teacher's generation at ingest, the quality filter, and fused search."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True,
        description="Generate synthetic knowledge (Q&A, summaries, keywords, metadata) with the teacher at "
        "ingest; `synthrag ingest --no-synth` turns it off for one run.",
    )
    generate: Literal["used", "all"] = Field(
        default="used",
        description="Chunk items to generate: 'used' = only the kinds the teacher profile's search uses "
        "(none for a teacher whose items do not help: then only the document notes), 'all' = every kind "
        "(what calibration needs).",
    )
    profile: str = Field(
        default="",
        description="Teacher profile file (JSON, as `synthrag calibrate --write-profile` writes) for collections "
        "without one; empty = the profile bundled for the teacher, else strengths 0.",
    )
    questions: int = Field(default=2, ge=1, le=10, description="Question/answer pairs asked per chunk.")
    max_attempts: int = Field(default=2, ge=1, le=10, description="Teacher calls per item before it counts as failed.")
    batch_size: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Chunks the local teacher decodes together in one batch (first attempts; retries go one by one).",
    )
    repetition_max: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Filter: drop items whose share of repeated words is above this."
    )
    grounding: bool = Field(default=True, description="Filter: drop items whose words are not in the chunk.")
    grounding_min: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Share of an item's content words that must occur in its source."
    )
    dedup: bool = Field(default=True, description="Filter: drop near-duplicate questions.")
    dedup_max_similarity: float = Field(
        default=0.9, ge=0.0, le=1.0, description="Cosine similarity at which two questions are duplicates."
    )
    roundtrip: bool = Field(
        default=True, description="Filter: keep a question only if it retrieves its own chunk (Doc2Query--)."
    )
    roundtrip_k: int = Field(
        default=5, ge=1, le=100, description="Rank within which a question must retrieve its own chunk."
    )
    search: bool | None = Field(
        default=None,
        description="Re-rank raw results with synthetic evidence: true/false for every search, or empty to "
        "follow the teacher profile stored with the collection (on only in the modes its calibration "
        "found a gain in).",
    )
    rerank_depth: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Raw candidates (at least k) that synthetic evidence may re-order; nothing else can enter.",
    )
    rerank_lambda: float | None = Field(
        default=None,
        ge=0.0,
        le=50.0,
        description="Override of the profile's lambda: raw places that full item evidence is worth.",
    )
    expansion_alpha: float | None = Field(
        default=None,
        ge=0.0,
        le=50.0,
        description="Override of the profile's alpha: raw places that full expansion evidence is worth.",
    )
    weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Deprecated and ignored: weighted fusion was replaced by bounded re-ranking "
        "(rerank_lambda, expansion_alpha).",
    )


class Settings(BaseSettings):
    """All configuration of synthrag; every field can be set as ``SYNTHRAG_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(default=Path("data"), description="Where the embedded store and caches live.")
    qdrant_url: str = Field(default="", description="Qdrant server URL; empty = embedded qdrant-edge.")
    qdrant_api_key: SecretStr | None = Field(default=None, description="API key for the Qdrant server.")
    qdrant_shards: int = Field(
        default=1, ge=1, le=1024, description="Shards of a new collection on a Qdrant server/cluster."
    )
    qdrant_replication: int = Field(
        default=1, ge=1, le=64, description="Copies of each shard on a Qdrant cluster (replication_factor)."
    )
    qdrant_write_consistency: int = Field(
        default=1, ge=1, le=64, description="Replicas that must confirm a write (write_consistency_factor)."
    )
    collection: CollectionName = Field(
        default=CollectionName("default"), description="Collection used when none is named."
    )

    vector_quantization: Literal["none", "int8"] = Field(
        default="none",
        description="New collections: int8 keeps a scalar-quantized copy of the dense vectors for search and "
        "rescores the candidates with the originals (for millions of chunks).",
    )
    vectors_on_disk: bool = Field(
        default=False, description="New collections: original dense vectors memory-mapped from disk, not in RAM."
    )
    quantization_oversampling: float = Field(
        default=2.0, ge=1.0, le=16.0, description="Quantized candidates per wanted hit, rescored with the originals."
    )

    embed_model: str = Field(
        default="", description="Path to a sentence-transformers model folder; empty = bundled MiniLM."
    )
    embed_threads: int = Field(default=2, ge=1, le=256, description="Torch threads for embedding.")
    embed_batch_size: int = Field(default=64, ge=1, le=4096, description="Texts per embedding batch.")
    embed_microbatch: bool = Field(
        default=True,
        description="Encode the queries of concurrent requests together, up to embed_batch_size texts a pass.",
    )
    search_threads: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Worker threads for the store side of /v1/search (it holds the GIL: a few are enough).",
    )
    search_lone_inline: bool = Field(
        default=True,
        description="Run the store side of a search on the event loop when it is the only search in flight "
        "(saves a lone search two thread hand-offs); false: always on a search thread.",
    )
    embed_runtime: Literal["onnx", "torchscript", "torch"] = Field(
        default="onnx",
        description="What runs the embedding forward pass: onnx (ONNX Runtime) or torchscript (a traced module), "
        "both GIL-free and used only where they reproduce encode (else the next one), or torch (encode).",
    )
    embed_microbatch_wait_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=100.0,
        description="Extra wait for more queries when a pass already has company (0: the previous pass is the window).",
    )
    llm: ChatModelSettings = Field(
        default_factory=ChatModelSettings, description="Model that writes answers (SYNTHRAG_LLM__*)."
    )
    teacher: ChatModelSettings = Field(
        default_factory=ChatModelSettings,
        description="Model that writes synthetic knowledge (SYNTHRAG_TEACHER__*).",
    )

    chunk_max_tokens: int = Field(
        default=200,
        ge=16,
        le=256,
        description="Chunk size bound in embedding word pieces (model cuts at 256).",
    )
    chunk_overlap_tokens: int = Field(default=32, ge=0, le=128, description="Overlap between chunks.")
    context_headers: bool = Field(
        default=True,
        description="Index each chunk with its document's header: title, organisation, period, section.",
    )
    query_preferences: bool = Field(
        default=True,
        description="Prefer documents of the period/organisation a query names ('Q2 2023', 'latest quarter').",
    )

    search_mode: SearchMode = Field(default=SearchMode.HYBRID, description="Default search mode.")
    search_k: int = Field(default=10, ge=1, le=1000, description="Default number of hits.")
    prefetch_limit: int = Field(default=100, ge=1, le=10000, description="Candidates per arm in hybrid.")
    # 10 scored best of 10/30/60/100 on SciFact train (README, "Retrieval quality").
    rrf_k: int = Field(default=10, ge=1, description="RRF rank constant.")
    fusion: Fusion = Field(
        default=Fusion.RRF,
        description="How hybrid joins dense and BM25: rrf (reciprocal ranks) or convex (weighted normalized scores).",
    )
    fusion_norm: Literal["minmax", "zscore"] = Field(
        default="minmax", description="Score normalization of each arm for convex fusion."
    )
    fusion_dense_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Weight of the dense arm in convex fusion (BM25 gets the rest)."
    )
    mmr_diversity: float = Field(default=0.3, ge=0.0, le=1.0, description="MMR diversity (0 = none).")
    mmr_candidates: int = Field(default=100, ge=1, le=10000, description="Candidates MMR picks from.")
    search_diversity: Diversity = Field(
        default=Diversity.NONE,
        description="Re-ordering of search hits after ranking: none, per-document (at most diversity_per_document "
        "chunks of a document before other documents), near-duplicates (a chunk repeating an earlier one "
        "set back), coverage (documents by a fitted relevance estimate, chunks by expected gain) or auto "
        "(coverage over short documents, near-duplicates otherwise).",
    )
    # auto: coverage's gain on SciFact train (short documents), near-duplicates' results on long ones
    # such as earnings-call transcripts, where coverage leaned worse (README, "Diversity").
    answer_diversity: Diversity = Field(
        default=Diversity.AUTO, description="The same re-ordering for the sources of an answer."
    )
    diversity_per_document: int = Field(
        default=1, ge=1, le=100, description="per-document: chunks of one document before other documents."
    )
    diversity_decay: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="per-document: 0 sets a document's further chunks behind all others; in (0, 1) scales the "
        "n-th further chunk's score by decay**n (a soft cap).",
    )
    diversity_similarity: float = Field(
        default=0.9, ge=0.0, le=1.0, description="near-duplicates: dense cosine at which a chunk repeats another."
    )
    diversity_candidates: int = Field(
        default=20, ge=1, le=1000, description="Top hits (at least k) that diversity re-orders; nothing else enters."
    )
    diversity_long_document: int = Field(
        default=8,
        ge=1,
        le=100_000,
        description="auto: a candidate document is long when one of its hits is at this chunk index or later; "
        "auto uses near-duplicates when long documents hold at least half of the candidates, coverage otherwise.",
    )
    diversity_coverage_model: Path | None = Field(
        default=None,
        description="coverage: JSON file of a fitted coverage model (python -m bench coverage --write); "
        "None = the bundled one, fitted on SciFact train.",
    )

    adapt: AdaptSettings = Field(
        default_factory=AdaptSettings, description="Embedder adaptation per collection (synthrag adapt)."
    )
    synth: SynthSettings = Field(
        default_factory=SynthSettings,
        description="Synthetic knowledge: generation at ingest, its filter, fused search (SYNTHRAG_SYNTH__*).",
    )

    answer_k: int = Field(default=4, ge=1, le=20, description="Sources put into an answer prompt.")
    answer_min_score: float = Field(
        default=0.3,
        ge=-1.0,
        le=1.0,
        description="Best dense similarity below which we refuse instead of answering.",
    )
    answer_max_tokens: int = Field(default=256, ge=1, le=4096, description="Longest answer in model tokens.")
    answer_temperature: float = Field(default=0.2, ge=0.0, le=2.0, description="Sampling temperature.")
    # 1.05 measured best of 1.0/1.05/1.1 on ten answers of the sample documents (README, "Answers").
    answer_repeat_penalty: float = Field(
        default=1.05, ge=1.0, le=2.0, description="llama.cpp repeat penalty for answers (1 = none)."
    )
    answer_source_chars: int = Field(default=1200, ge=100, le=20000, description="Characters kept per source.")
    answer_mode: AnswerMode = Field(
        default=AnswerMode.COMBINED,
        description="generated (model text, unsupported sentences marked), extractive (quoted source "
        "sentences, no model) or combined (model text, quotes when it fails the grounding check).",
    )
    generation_queue: int = Field(
        default=4, ge=0, le=1000, description="Generations that may wait for the model; more get 429."
    )
    generation_retry_after_s: int = Field(default=5, ge=1, le=3600, description="Retry-After sent with 429.")
    condense: Literal["llm", "concat"] = Field(
        default="llm",
        description="How a follow-up is made standalone before retrieval: by the model, or by "
        "joining it with the previous question.",
    )

    api_keys: dict[str, str] = Field(
        default_factory=dict,
        description='JSON object {"api-key": "tenant"}; when set, /v1 routes need "Authorization: Bearer <key>".',
    )
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1, description="Largest accepted upload (413).")
    max_upload_request_bytes: int = Field(
        default=200 * 1024 * 1024,
        ge=1024,
        description="Largest POST /v1/documents request, all its files together, counted as it arrives (413).",
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest body of any other request, counted as it arrives (413).",
    )
    open_access: bool = Field(
        default=False,
        description="Let `synthrag serve` listen on a non-loopback address without API keys (open to all).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the service answers to; empty: loopback names without API keys, any with "
        "them; '*': any.",
    )
    metrics_key: SecretStr | None = Field(
        default=None,
        description="Bearer token for GET /metrics when API keys are set; without it only loopback clients scrape.",
    )
    max_page_chars: int = Field(
        default=200_000, ge=1000, description="Longest page/section text accepted from one file (422 beyond)."
    )
    max_document_chars: int = Field(
        default=5_000_000, ge=1000, description="Longest extracted text accepted from one file (422 beyond)."
    )
    max_parse_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Longest time spent extracting the text of one uploaded file (422 or a failed job beyond).",
    )
    workers: int = Field(default=1, ge=0, le=64, description="Ingest worker threads inside the service.")
    job_lease_s: float = Field(
        default=30.0, gt=0, description="A running job whose worker stops heart-beating this long is retried."
    )
    job_max_attempts: int = Field(default=3, ge=1, le=100, description="Attempts before a job is failed.")
    parse_isolated: bool = Field(
        default=True,
        description="Parse uploads in a child process, killed past the parse budget (false: in a service thread).",
    )
    tenant_max_queued_jobs: int = Field(
        default=1000, ge=1, description="Jobs one tenant may have queued or running; uploads beyond get 429."
    )
    tenant_max_queued_bytes: int = Field(
        default=2 * 1024**3, ge=1, description="Bytes of uploads one tenant may have queued or running (429 beyond)."
    )

    host: str = Field(default="127.0.0.1", description="Bind address of `synthrag serve`.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port of `synthrag serve`.")
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_format: Literal["json", "text"] = Field(
        default="text", description="Log lines on stderr: json (one object per line) or text."
    )

    @field_validator("api_keys")
    @classmethod
    def _valid_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tenant in value.items():
            if len(key) < 16:
                raise ValueError("every API key must be at least 16 characters")
            validate_tenant(tenant)
        return value

    @field_validator("log_level")
    @classmethod
    def _valid_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("qdrant_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (or be empty for the embedded store)")
        return value

    @model_validator(mode="after")
    def _consistency_within_replication(self) -> Settings:
        if self.qdrant_write_consistency > self.qdrant_replication:
            raise ValueError(
                f"{ENV_PREFIX}QDRANT_WRITE_CONSISTENCY ({self.qdrant_write_consistency}) cannot exceed "
                f"{ENV_PREFIX}QDRANT_REPLICATION ({self.qdrant_replication}): writes could never succeed"
            )
        return self

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_max_tokens:
            raise ValueError(
                f"{ENV_PREFIX}CHUNK_OVERLAP_TOKENS ({self.chunk_overlap_tokens}) must be smaller than "
                f"{ENV_PREFIX}CHUNK_MAX_TOKENS ({self.chunk_max_tokens})"
            )
        return self


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment (plus overrides); raise ConfigError naming the variable.

    The synthesis settings' flat names of old (``SYNTHRAG_SYNTH_ENABLED``, ...) still count, below the
    nested ones (``SYNTHRAG_SYNTH__ENABLED``), each with a deprecation warning.
    """
    given = overrides.get("synth")
    if given is None or isinstance(given, Mapping):
        explicit = dict(given or {})
        legacy = {k: v for k, v in legacy_synth_env(os.environ).items() if k not in explicit}
        if legacy:
            overrides = {**overrides, "synth": {**legacy, **explicit}}
    else:
        legacy = {}  # a whole SynthSettings was given: the environment has no say in it
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            parts = [str(part) for part in err["loc"]]
            if len(parts) > 1 and parts[0] == "synth" and parts[1] in legacy:
                name = _legacy_synth_name(parts[1])
            else:
                loc = "__".join(parts).upper()
                name = f"{ENV_PREFIX}{loc}" if loc else "settings"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from exc


def legacy_synth_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Synthesis settings given only under their deprecated flat names, by field; warns about each."""
    upper = {key.upper(): value for key, value in environ.items()}
    found: dict[str, str] = {}
    for field in SynthSettings.model_fields:
        old, new = _legacy_synth_name(field), f"{ENV_PREFIX}SYNTH__{field.upper()}"
        if old in upper and new not in upper:
            log.warning("%s is deprecated; set %s instead", old, new)
            found[field] = upper[old]
    return found


def _legacy_synth_name(field: str) -> str:
    return f"{ENV_PREFIX}SYNTH_{field.upper()}"


def configure_offline() -> None:
    """Make sure no library reaches for a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
