"""Pick the VectorStore adapter from settings: embedded qdrant-edge, or a Qdrant server."""

from __future__ import annotations

from kernel.models import VectorLayout
from kernel.ports import VectorStore
from kernel.settings import Settings

#: Folder under ``Settings.data_dir`` that holds the embedded collections.
EDGE_DIR = "qdrant-edge"


def create_store(settings: Settings) -> VectorStore:
    """Build the store: EdgeStore when ``qdrant_url`` is empty, else a ClientStore on that server.

    Args:
        settings: Service settings (``data_dir``, ``qdrant_url``, ``qdrant_api_key``, and the
            ``qdrant_shards``/``qdrant_replication``/``qdrant_write_consistency`` of new collections, and
            ``vector_quantization``/``vectors_on_disk``/``quantization_oversampling`` of their dense vectors).

    Returns:
        A VectorStore; the caller closes it.
    """
    layout = VectorLayout(
        quantization=settings.vector_quantization,
        on_disk=settings.vectors_on_disk,
        oversampling=settings.quantization_oversampling,
    )
    # Imported here so a deployment only loads the engine it uses (qdrant-edge is a native library).
    if not settings.qdrant_url:
        from retrieval.stores.edge import EdgeStore

        return EdgeStore(settings.data_dir / EDGE_DIR, layout=layout)

    from qdrant_client import QdrantClient

    from retrieval.stores.client import ClientStore

    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key is not None else None
    return ClientStore(
        QdrantClient(url=settings.qdrant_url, api_key=api_key),
        shards=settings.qdrant_shards,
        replication=settings.qdrant_replication,
        write_consistency=settings.qdrant_write_consistency,
        layout=layout,
    )
