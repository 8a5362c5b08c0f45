"""Protocols for the swappable backends: embedder, sparse encoder, vector store (points, collections, dense spaces),
chat model."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, Protocol, runtime_checkable

from kernel.models import (
    ChatMessage,
    Completion,
    GenerationParams,
    PointKind,
    ScoredPoint,
    SparseVec,
    StoredPoint,
    StoreQuery,
)


@runtime_checkable
class Embedder(Protocol):
    """Dense text embedder (normalized vectors)."""

    @property
    def model_id(self) -> str:
        """Stable identifier of the model (goes into point ids)."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    @property
    def max_tokens(self) -> int:
        """Longest input in word pieces before the model truncates."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts in batches; returns one L2-normalized vector per text."""
        ...

    async def embed_async(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed` from a coroutine, without blocking its event loop."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Number of word pieces of each text (without special tokens)."""
        ...


class SparseEncoder(Protocol):
    """Lexical (BM25) sparse encoder."""

    def encode_documents(self, texts: Sequence[str], *, avg_len: float) -> list[SparseVec]:
        """Encode documents with saturated term frequencies for the given average length."""
        ...

    def encode_query(self, text: str) -> SparseVec:
        """Encode a query: each unique term weight 1."""
        ...

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """Document lengths in BM25 tokens (after stopwords/stemming)."""
        ...


class PointStore(Protocol):
    """Points of a collection: dense + sparse vectors with payload, written and searched by id."""

    def upsert(self, collection: str, points: Sequence[StoredPoint]) -> None:
        """Insert or replace points by id."""
        ...

    def query(self, collection: str, query: StoreQuery) -> list[ScoredPoint]:
        """Run a search; results best first."""
        ...

    def delete(self, collection: str, point_ids: Sequence[str]) -> None:
        """Delete points by id (missing ids are ignored)."""
        ...

    def delete_document(self, collection: str, document_id: str) -> int:
        """Delete every point of a document; returns how many were removed."""
        ...

    def document_point_ids(
        self, collection: str, document_id: str, *, kinds: Sequence[PointKind] | None = None
    ) -> set[str]:
        """Ids of a document's points: of the given kinds, or all."""
        ...

    def documents_point_kinds(self, collection: str, document_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """For each of these documents that has points, ``{point id: kind}`` (one look-up for all of them;
        empty when the collection is missing)."""
        ...

    def set_payload(
        self, collection: str, point_ids: Sequence[str], values: dict[str, Any], *, key: str | None = None
    ) -> None:
        """Merge ``values`` into the payload of points (into the nested object ``key`` when given)."""
        ...

    def count(self, collection: str) -> int:
        """Number of points in a collection."""
        ...


class CollectionAdmin(Protocol):
    """The collections themselves: create, test, list, drop, describe, index, close."""

    def ensure_collection(self, name: str, *, dim: int) -> None:
        """Create the collection (and payload indexes) if missing."""
        ...

    def exists(self, name: str) -> bool:
        """Whether the collection exists (cheaper than listing every collection)."""
        ...

    def list_collections(self) -> list[str]:
        """Names of existing collections."""
        ...

    def drop_collection(self, name: str) -> None:
        """Delete a collection and all its points."""
        ...

    def get_metadata(self, collection: str) -> dict[str, Any]:
        """Collection-level metadata (the embedding model it was built with, eval markers)."""
        ...

    def set_metadata(self, collection: str, metadata: dict[str, Any]) -> None:
        """Replace the collection-level metadata (read-modify-write: not for counters)."""
        ...

    def optimize(self, collection: str) -> None:
        """Build indexes after a bulk load (no-op where the backend does it itself)."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


class DenseSpaces(Protocol):
    """Named dense vectors of a collection beside the base one (``dense``): adapted embedders' spaces."""

    def add_dense_space(self, collection: str, space: str, *, dim: int) -> None:
        """Add an empty named dense vector (cosine) to the collection; no-op when it is there."""
        ...

    def drop_dense_space(self, collection: str, space: str) -> None:
        """Remove a named dense vector and its vectors (no-op when missing); the base one cannot go."""
        ...

    def dense_spaces(self, collection: str) -> list[str]:
        """Names of the collection's dense vectors, the base one first."""
        ...

    def set_dense(self, collection: str, space: str, vectors: dict[str, list[float]]) -> None:
        """Write the ``space`` vectors of existing points, by id."""
        ...

    def scan(
        self, collection: str, *, offset: str | None, limit: int, missing: str | None = None
    ) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        """A page of (id, payload) from ``offset`` and the next offset (None at the end); with
        ``missing``, only points without a vector in that space."""
        ...


class VectorStore(PointStore, CollectionAdmin, DenseSpaces, Protocol):
    """Both ports, as one adapter implements them; consumers depend on the one they use."""


#: A streamed reply: text pieces in order; when the model ends by itself the generator returns the whole
#: reply with its token counts and finish reason (``None`` where the backend cannot say). Closing it early
#: stops the generation and frees the model.
ChatStream = Generator[str, None, Completion | None]


class ChatModel(Protocol):
    """A chat-tuned language model: local llama.cpp or an OpenAI-compatible server."""

    @property
    def model_id(self) -> str:
        """Stable identifier (goes into generation cache keys)."""
        ...

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        params: GenerationParams,
        schema: dict[str, Any] | None = None,
    ) -> Completion:
        """Generate a full reply; with ``schema`` the reply is constrained to that JSON schema."""
        ...

    def stream(self, messages: Sequence[ChatMessage], *, params: GenerationParams) -> ChatStream:
        """Generate a reply token by token (text pieces, in order); see :data:`ChatStream`."""
        ...


@runtime_checkable
class PromptCounter(Protocol):
    """A ChatModel that can count the tokens of a chat-formatted prompt (usage of a generation stopped early)."""

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the chat-formatted ``messages`` take, role markup included."""
        ...


@runtime_checkable
class BatchChatModel(ChatModel, Protocol):
    """A ChatModel that also decodes several conversations at once (callers without it loop over ``complete``)."""

    def complete_many(
        self,
        conversations: Sequence[Sequence[ChatMessage]],
        *,
        params: GenerationParams,
        schema: dict[str, Any] | None = None,
    ) -> list[Completion]:
        """One reply per conversation, in order (constrained to ``schema`` when given); ModelError if it cannot run."""
        ...
