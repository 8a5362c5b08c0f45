"""Ingest throughput: Ingestor (chunk, embed, BM25, store; no synthesis) vs raw sentence-transformers encode."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from app.components import Components
from bench.corpus import items
from bench.stats import percentile
from ingest.pipeline import EMBED_STEP
from retrieval.embedding import SentenceTransformerEmbedder


def ingest_vs_encode(components: Components, texts: Sequence[str], reps: int) -> dict[str, Any]:
    """Interleaved repetitions on the same texts, same batch size; a fresh collection per Ingestor run
    (so nothing is skipped as unchanged). Chunks per second, medians and paired ratio."""
    if not isinstance(components.search.embedder, SentenceTransformerEmbedder):
        raise RuntimeError("the ingest comparison needs the sentence-transformers embedder")
    model: Any = components.search.embedder.model
    batch = components.settings.embed_batch_size
    texts = list(texts)
    model.encode(texts[:batch], batch_size=batch)  # warm-up
    ingest_rates: list[float] = []
    raw_rates: list[float] = []
    step_rates: list[float] = []
    for rep in range(reps):
        order = ("ingest", "raw", "step") if rep % 2 == 0 else ("step", "raw", "ingest")
        for name in order:
            started = time.perf_counter()
            if name == "raw":
                model.encode(texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)
                raw_rates.append(len(texts) / (time.perf_counter() - started))
                continue
            if name == "step":  # the raw model called the way Ingestor calls it: EMBED_STEP texts per call
                for start in range(0, len(texts), EMBED_STEP):
                    model.encode(
                        texts[start : start + EMBED_STEP],
                        batch_size=batch,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                    )
                step_rates.append(len(texts) / (time.perf_counter() - started))
                continue
            collection = f"bench-ingest-{rep}"
            outcomes = components.ingest.ingestor.ingest(items(texts, prefix=f"ing{rep}"), collection=collection)
            seconds = time.perf_counter() - started
            chunks = sum(o.chunks for o in outcomes if o.status == "indexed")
            if chunks != len(texts):
                raise RuntimeError(f"ingest stored {chunks} chunks of {len(texts)}")
            ingest_rates.append(chunks / seconds)
            components.search.store.drop_collection(collection)
    ratios = [i / r for i, r in zip(ingest_rates, raw_rates, strict=True)]
    return {
        "texts": len(texts),
        "batch_size": batch,
        "reps": reps,
        "ingest_chunks_per_s": round(percentile(ingest_rates, 50), 1),
        "raw_encode_per_s": round(percentile(raw_rates, 50), 1),
        "ratio_paired_median": round(percentile(ratios, 50), 3),
        "embed_step": EMBED_STEP,
        "raw_encode_in_steps_per_s": round(percentile(step_rates, 50), 1),
        "steps_ratio_paired_median": round(
            percentile([s / r for s, r in zip(step_rates, raw_rates, strict=True)], 50), 3
        ),
    }
