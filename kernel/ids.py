"""Content-derived identifiers: the same content always maps to the same ids."""

from __future__ import annotations

import hashlib
import uuid

#: Bump when chunking or payload layout changes, so old points are replaced on re-ingest.
PIPELINE_VERSION = "chunk-v1"

_NAMESPACE = uuid.UUID("6f1c6f0e-3c55-4d8e-9a1e-5e7b0c2f9a11")


def sha256_text(text: str) -> str:
    """Hex sha256 of a text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_id(collection: str, source_key: str) -> str:
    """Stable id of a document: one per (collection, source); a new version keeps the id."""
    return str(uuid.uuid5(_NAMESPACE, f"doc\x00{collection}\x00{source_key}"))


def chunk_point_id(
    *, document_id: str, index: int, text: str, model_id: str, chunk_config: str, attributes: str = ""
) -> str:
    """Point id of a chunk: changes whenever anything that ends up in the point changes."""
    key = "\x00".join(
        (
            "chunk",
            document_id,
            str(index),
            sha256_text(text),
            model_id,
            PIPELINE_VERSION,
            chunk_config,
            attributes,
        )
    )
    return str(uuid.uuid5(_NAMESPACE, key))


def synthetic_point_id(*, parent_id: str, kind: str, text: str) -> str:
    """Point id of a synthetic item: its parent chunk's point id (which carries the document version) plus content."""
    return str(uuid.uuid5(_NAMESPACE, "\x00".join(("synthetic", parent_id, kind, sha256_text(text)))))
