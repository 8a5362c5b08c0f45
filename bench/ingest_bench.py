"""Ingest throughput: Ingestor (chunk, embed, BM25, store; no synthesis) vs raw sentence-transformers encode.

``python -m bench ingest [--texts N] [--reps R]`` runs this comparison alone (on a scratch data dir),
with enough repetitions for the interval of the paired ratio to mean something.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.components import Components, build_components
from bench import scale
from bench.corpus import corpus_parts, items
from bench.stats import bootstrap_interval, percentile
from ingest.pipeline import EMBED_STEP
from kernel.settings import configure_offline, get_settings
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
            if name == "step":  # EMBED_STEP texts per call in corpus order (each call pads to its longest)
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
    low, high = bootstrap_interval(ratios)
    return {
        "texts": len(texts),
        "batch_size": batch,
        "reps": reps,
        "ingest_chunks_per_s": round(percentile(ingest_rates, 50), 1),
        "raw_encode_per_s": round(percentile(raw_rates, 50), 1),
        "ratio_paired_median": round(percentile(ratios, 50), 3),
        "ratio_paired_mean": round(sum(ratios) / len(ratios), 3),
        "ratio_mean_ci95": [round(low, 3), round(high, 3)],
        "ratios": [round(r, 3) for r in ratios],
        "embed_step": EMBED_STEP,
        "raw_encode_in_steps_per_s": round(percentile(step_rates, 50), 1),
        "steps_ratio_paired_median": round(
            percentile([s / r for s, r in zip(step_rates, raw_rates, strict=True)], 50), 3
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI: the comparison alone, printed as JSON (and written to ``--out`` when given)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=512, help="chunks per repetition (one per document)")
    parser.add_argument("--reps", type=int, default=15, help="interleaved repetitions")
    parser.add_argument("--out", type=Path, default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    configure_offline()
    with tempfile.TemporaryDirectory() as scratch:
        components = build_components(get_settings(data_dir=Path(scratch), context_headers=False))
        try:
            figures = ingest_vs_encode(components, corpus_parts(args.texts)[0], args.reps)
        finally:
            components.close()
    text = json.dumps(figures, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
        if args.out.name == "ingest.json":
            scale.refresh(args.out.parent)  # RESULTS.md's "Throughput and scale" section, when it is there
    print(text)
    return 0
