"""Teacher throughput: the old path (one chunk at a time) vs the new (batched decoding), same chunk prompt and grammar.

Both run on the same SciFact chunks in one process, through TeacherGenerator over the llama-cpp
adapter with a fresh cache (nothing cached), alternating old and new batch by batch so that other
load on the machine hits both. Reports chunks per second of each path and their ratio, completion
tokens per second, valid-notes rates (retries included) and the kept rate of each path's items
through the filter's pure checks (repetition + grounding, SynthSettings defaults), per kind.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.stats import machine
from evaluation.beir import load_beir
from evaluation.runner import beir_items
from ingest.chunking import chunk_document
from kernel.settings import Settings, SynthSettings, configure_offline
from knowledge.cache import GenerationCache
from knowledge.generate import TeacherGenerator
from knowledge.policy import candidates, judge_candidate
from knowledge.prompts import CHUNK_PROMPT
from llm.llama_cpp import LlamaCppChatModel, bundled_gguf_path
from retrieval.embedding import create_embedder

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "scifact"
QUESTIONS = 2
OLD, NEW = "one-by-one", "batched"


def sample_chunks(n: int) -> list[str]:
    """The first ``n`` chunks of SciFact documents, chunked exactly as ingest does."""
    settings = Settings()
    embedder = create_embedder(settings)
    dataset = load_beir(SCIFACT, "train")
    texts: list[str] = []
    for item in beir_items(dataset):
        chunks = chunk_document(
            item.document,
            document_id="bench",
            count_tokens=embedder.count_tokens,
            max_tokens=min(settings.chunk_max_tokens, embedder.max_tokens),
            overlap_tokens=settings.chunk_overlap_tokens,
        )
        texts += [c.text for c in chunks]
        if len(texts) >= n:
            return texts[:n]
    return texts


def _kept(texts: list[str], generated: list[Any]) -> dict[str, Any]:
    """Valid notes, and items kept by the filter's pure checks, overall and per kind."""
    cfg = SynthSettings()
    made: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    for text, g in zip(texts, generated, strict=True):
        if g.notes is None:
            continue
        for candidate in candidates([g.notes], None, chunk_count=1):
            item = judge_candidate(candidate, source=text, cfg=cfg)
            made[item.kind] += 1
            kept[item.kind] += int(item.kept)
    total = sum(made.values())
    return {
        "valid_chunks": sum(1 for g in generated if g.notes is not None),
        "first_attempt_valid": sum(1 for g in generated if g.notes is not None and g.attempts == 1),
        "items": total,
        "kept": sum(kept.values()),
        "kept_rate": sum(kept.values()) / total if total else 0.0,
        "kept_per_chunk": sum(kept.values()) / len(texts) if texts else 0.0,
        "generated_by_kind": dict(made),
        "kept_by_kind": dict(kept),
    }


def run(n_chunks: int, *, batch_size: int = 8, threads: int = 2) -> dict[str, Any]:
    """Old vs new path over the same ``n_chunks`` chunks (plus a warm-up of each), alternating per batch."""
    configure_offline()
    texts = sample_chunks(n_chunks + 1)
    adapter = LlamaCppChatModel(bundled_gguf_path(), threads=threads, context_tokens=4096)
    generated: dict[str, list[Any]] = {OLD: [], NEW: []}
    seconds: dict[str, float] = {OLD: 0.0, NEW: 0.0}
    batch_rates: dict[str, list[float]] = {OLD: [], NEW: []}

    def path(name: str, part: list[str]) -> tuple[list[Any], float]:
        with tempfile.TemporaryDirectory() as cache_dir:
            generator = TeacherGenerator(
                adapter,
                GenerationCache.open(Path(cache_dir)),
                questions=QUESTIONS,
                batch_size=batch_size,
                chunk_prompt=CHUNK_PROMPT,
            )
            started = time.perf_counter()
            # Old: the adapter's complete() per chunk, as synthesis ran before batching.
            result = [generator.chunk_notes(t) for t in part] if name == OLD else generator.chunk_notes_many(part)
            return result, time.perf_counter() - started

    path(OLD, texts[:1])
    path(NEW, texts[:1])
    measured = texts[1:]
    for i, start in enumerate(range(0, len(measured), batch_size)):
        part = measured[start : start + batch_size]
        order = [OLD, NEW] if i % 2 == 0 else [NEW, OLD]
        for prompt in order:
            result, took = path(prompt, part)
            generated[prompt] += result
            seconds[prompt] += took
            batch_rates[prompt].append(len(part) / took if took > 0 else 0.0)
    rate = {k: len(measured) / v if v else 0.0 for k, v in seconds.items()}
    tokens = {k: sum(g.completion_tokens for g in v) for k, v in generated.items()}
    return {
        "benchmark": "synth_throughput",
        "chunks": len(measured),
        "questions": QUESTIONS,
        "batch_size": batch_size,
        "chunks_per_s": rate,
        "chunks_per_s_median_of_batches": {k: statistics.median(v) for k, v in batch_rates.items() if v},
        "new_vs_old_chunks_per_s": rate[NEW] / rate[OLD] if rate[OLD] else 0.0,
        "seconds_per_chunk_mean": {k: v / max(len(measured), 1) for k, v in seconds.items()},
        "tokens_per_s_overall": {k: tokens[k] / seconds[k] if seconds[k] else 0.0 for k in tokens},
        "quality": {k: _kept(measured, v) for k, v in generated.items()},
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=24, help="chunks measured (after one warm-up)")
    parser.add_argument("--batch-size", type=int, default=8, help="chunks per batch of the new path")
    parser.add_argument("--smoke", action="store_true", help="2 chunks, batches of 2 (CI)")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    chunks, batch_size = (2, 2) if args.smoke else (args.chunks, args.batch_size)
    report = run(chunks, batch_size=batch_size)
    print("| path | chunks/s | s per chunk | tokens/s | valid notes | kept items (rate) | kept per kind |")
    print("|---|---|---|---|---|---|---|")
    for name, label in ((OLD, f"old: {CHUNK_PROMPT} one by one"), (NEW, f"new: {CHUNK_PROMPT} batched")):
        q = report["quality"][name]
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(q["kept_by_kind"].items()))
        print(
            f"| {label} | {report['chunks_per_s'][name]:.3f} | {report['seconds_per_chunk_mean'][name]:.2f} | "
            f"{report['tokens_per_s_overall'][name]:.1f} | {q['valid_chunks']}/{report['chunks']} | "
            f"{q['kept']}/{q['items']} ({q['kept_rate']:.0%}) | {kinds} |"
        )
    print(f"new / old chunks/s: {report['new_vs_old_chunks_per_s']:.2f} ({report['chunks']} chunks)")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))
    return 0
