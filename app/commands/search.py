"""``synthrag search``: query a collection from the shell."""

from __future__ import annotations

import argparse
import json

from app.components import build_components
from kernel.models import SearchMode
from kernel.settings import Settings
from kernel.tenancy import CollectionName


def run_search(args: argparse.Namespace, settings: Settings) -> int:
    """Print hits as text or JSON."""
    collection = CollectionName(args.collection or settings.collection)
    components = build_components(settings)
    try:
        result = components.search.searcher.search(
            args.query,
            collection=collection,
            k=args.k,
            mode=SearchMode(args.mode) if args.mode else None,
        )
    finally:
        components.close()
    if args.json:
        hits = [
            {
                "text": h.text,
                "score": h.score,
                "document_id": h.document_id,
                "source": h.source,
                "page": h.page,
                "heading": h.heading,
                "start": h.start,
                "end": h.end,
                "kind": h.kind,
                "chunk_index": h.chunk_index,
                "context": h.context,
                "metadata": h.metadata,
                "matched_kind": h.matched_kind,
                "matched_text": h.matched_text,
            }
            for h in result.hits
        ]
        reading = result.interpretation.model_dump(mode="json") if result.interpretation is not None else None
        body = {"collection": collection, "mode": result.mode.value, "hits": hits, "interpretation": reading}
        print(json.dumps(body, indent=2))
        return 0
    if result.interpretation is not None:
        named = ", ".join(result.interpretation.periods + result.interpretation.organisations)
        print(f"preferring documents of: {named}")
    if not result.hits:
        print("no hits")
    for rank, hit in enumerate(result.hits, 1):
        where = hit.source + (f" p.{hit.page}" if hit.page else "")
        snippet = " ".join(hit.text.split())[:200]
        print(f"{rank:>2}. {hit.score:.4f}  {where}\n    {snippet}")
    return 0
