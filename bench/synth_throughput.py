"""Teacher throughput: the old path (one chunk at a time, weights as stored) vs the new (the teacher's
default settings: widened weights, fused attention, batched decoding), same chunk prompt and grammar.

A third path, one chunk at a time on the new model, separates what the weights give from what
batching gives. All run on the same SciFact chunks in one process, through TeacherGenerator over the
llama-cpp adapter with a fresh cache (nothing cached), in an order rotated batch by batch so that
other load on the machine hits every path. Reports chunks per second of each path and the new/old
ratio, completion tokens per second, valid-notes rates (retries included) and the kept rate of each
path's items through the filter's pure checks (repetition + grounding, SynthSettings defaults), per kind.
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

from bench.stats import bootstrap_interval, machine
from evaluation.beir import load_beir
from evaluation.runner import beir_items
from ingest.chunking import chunk_document
from kernel.settings import ChatModelSettings, Settings, SynthSettings, configure_offline
from knowledge.cache import GenerationCache
from knowledge.generate import TeacherGenerator
from knowledge.policy import candidates, judge_candidate
from knowledge.prompts import CHUNK_PROMPT
from llm.factory import create_chat_model
from llm.llama_cpp import LlamaCppChatModel, bundled_gguf_path
from retrieval.embedding import create_embedder

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "scifact"
QUESTIONS = 2
OLD, WIDE, NEW = "one-by-one", "one-by-one-new-model", "batched"
PATHS = (OLD, WIDE, NEW)


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


def judged(texts: list[str], generated: list[Any]) -> list[list[Any]]:
    """Each chunk's items as the filter's pure checks judge them (none for a chunk without valid notes)."""
    cfg = SynthSettings()
    return [
        []
        if g.notes is None
        else [judge_candidate(c, source=text, cfg=cfg) for c in candidates([g.notes], None, chunk_count=1)]
        for text, g in zip(texts, generated, strict=True)
    ]


def _kept(generated: list[Any], items: list[list[Any]]) -> dict[str, Any]:
    """Valid notes, and items kept by the filter's pure checks (``judged``), overall and per kind."""
    made: Counter[str] = Counter(item.kind for chunk in items for item in chunk)
    kept: Counter[str] = Counter(item.kind for chunk in items for item in chunk if item.kept)
    total = sum(made.values())
    return {
        "valid_chunks": sum(1 for g in generated if g.notes is not None),
        "first_attempt_valid": sum(1 for g in generated if g.notes is not None and g.attempts == 1),
        "items": total,
        "kept": sum(kept.values()),
        "kept_rate": sum(kept.values()) / total if total else 0.0,
        "kept_per_chunk": sum(kept.values()) / len(items) if items else 0.0,
        "generated_by_kind": dict(made),
        "kept_by_kind": dict(kept),
    }


def run(n_chunks: int, *, batch_size: int, threads: int = 2, paths: tuple[str, ...] = PATHS) -> dict[str, Any]:
    """Each of ``paths`` over the same ``n_chunks`` chunks (plus a warm-up of each), order rotated per batch."""
    if OLD not in paths or NEW not in paths:
        raise ValueError(f"paths must include {OLD} and {NEW}")
    configure_offline()
    texts = sample_chunks(n_chunks + 1)
    old = LlamaCppChatModel(bundled_gguf_path(), threads=threads, context_tokens=4096)
    new = create_chat_model(ChatModelSettings(threads=threads, context_tokens=4096), role="teacher")
    models = {OLD: old, WIDE: new, NEW: new}
    generated: dict[str, list[Any]] = {p: [] for p in paths}
    seconds: dict[str, float] = dict.fromkeys(paths, 0.0)
    batch_rates: dict[str, list[float]] = {p: [] for p in paths}

    def path(name: str, part: list[str]) -> tuple[list[Any], float]:
        with tempfile.TemporaryDirectory() as cache_dir:
            generator = TeacherGenerator(
                models[name],
                GenerationCache.open(Path(cache_dir)),
                questions=QUESTIONS,
                batch_size=batch_size,
                chunk_prompt=CHUNK_PROMPT,
            )
            started = time.perf_counter()
            # One by one: the adapter's complete() per chunk, as synthesis ran before batching.
            result = generator.chunk_notes_many(part) if name == NEW else [generator.chunk_notes(t) for t in part]
            return result, time.perf_counter() - started

    for name in paths:
        path(name, texts[:1])
    measured = texts[1:]
    for i, start in enumerate(range(0, len(measured), batch_size)):
        part = measured[start : start + batch_size]
        turn = i % len(paths)
        for name in paths[turn:] + paths[:turn]:
            result, took = path(name, part)
            generated[name] += result
            seconds[name] += took
            batch_rates[name].append(len(part) / took if took > 0 else 0.0)
    items = {k: judged(measured, generated[k]) for k in paths}
    rate = {k: len(measured) / v if v else 0.0 for k, v in seconds.items()}
    tokens = {k: sum(g.completion_tokens for g in v) for k, v in generated.items()}
    return {
        "benchmark": "synth_throughput",
        "chunks": len(measured),
        "questions": QUESTIONS,
        "batch_size": batch_size,
        "models": {name: models[name].model_id for name in paths},
        "chunks_per_s": rate,
        "chunks_per_s_median_of_batches": {k: statistics.median(v) for k, v in batch_rates.items() if v},
        "new_vs_old_chunks_per_s": rate[NEW] / rate[OLD] if rate[OLD] else 0.0,
        "seconds_per_chunk_mean": {k: v / max(len(measured), 1) for k, v in seconds.items()},
        "tokens_per_s_overall": {k: tokens[k] / seconds[k] if seconds[k] else 0.0 for k in tokens},
        "quality": {k: _kept(generated[k], items[k]) for k in paths},
        "kept_per_chunk_new_minus_old": _paired_kept(items[NEW], items[OLD]),
        "machine": machine(),
    }


def _paired_kept(new: list[list[Any]], old: list[list[Any]]) -> dict[str, Any]:
    """Kept items per chunk (``judged``), new minus old, with the 95% bootstrap interval of its mean."""
    diffs = [float(sum(i.kept for i in a) - sum(i.kept for i in b)) for a, b in zip(new, old, strict=True)]
    low, high = bootstrap_interval(diffs)
    return {"mean": statistics.fmean(diffs), "ci95": [low, high], "n": len(diffs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=24, help="chunks measured (after one warm-up)")
    parser.add_argument(
        "--batch-size", type=int, default=SynthSettings().batch_size, help="chunks per batch of the new path"
    )
    parser.add_argument(
        "--paths", default=",".join(PATHS), help=f"paths to run, comma-separated ({OLD} and {NEW} required)"
    )
    parser.add_argument("--smoke", action="store_true", help="2 chunks, batches of 2 (CI)")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    chunks, batch_size = (2, 2) if args.smoke else (args.chunks, args.batch_size)
    paths = tuple(p for p in PATHS if p in args.paths.split(","))
    report = run(chunks, batch_size=batch_size, paths=paths)
    print("| path | chunks/s | s per chunk | tokens/s | valid notes | kept items (rate) | kept per kind |")
    print("|---|---|---|---|---|---|---|")
    labels = {
        OLD: f"old: {CHUNK_PROMPT} one by one, weights as stored",
        WIDE: f"{CHUNK_PROMPT} one by one, new model settings",
        NEW: f"new: {CHUNK_PROMPT} batched, new model settings",
    }
    for name in paths:
        label = labels[name]
        q = report["quality"][name]
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(q["kept_by_kind"].items()))
        print(
            f"| {label} | {report['chunks_per_s'][name]:.3f} | {report['seconds_per_chunk_mean'][name]:.2f} | "
            f"{report['tokens_per_s_overall'][name]:.1f} | {q['valid_chunks']}/{report['chunks']} | "
            f"{q['kept']}/{q['items']} ({q['kept_rate']:.0%}) | {kinds} |"
        )
    paired = report["kept_per_chunk_new_minus_old"]
    print(f"new / old chunks/s: {report['new_vs_old_chunks_per_s']:.2f} ({report['chunks']} chunks)")
    low, high = paired["ci95"]
    print(f"kept items per chunk, new - old: {paired['mean']:+.3f}, 95% interval [{low:+.3f}, {high:+.3f}]")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))
    return 0
