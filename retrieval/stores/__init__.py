"""Vector store adapters (qdrant-edge embedded, Qdrant server) behind ``kernel.ports.VectorStore``."""

from __future__ import annotations

from retrieval.stores.factory import create_store

__all__ = ["create_store"]
