"""Teacher throughput: TeacherGenerator over the llama-cpp adapter vs raw llama-cpp-python, same prompts, interleaved.

Each SciFact chunk is generated twice per round, once through the adapter (cache off: a fresh
cache directory per call) and once by ``llama_cpp.Llama.create_chat_completion`` with the same
messages, JSON schema, token limit, temperature and seed; the order alternates between rounds.
Reports completion tokens per second (median of per-call rates) and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import machine
from evaluation.beir import load_beir
from evaluation.runner import beir_items
from ingest.chunking import chunk_document
from kernel.settings import Settings, configure_offline
from knowledge.cache import GenerationCache
from knowledge.generate import TeacherGenerator
from knowledge.prompts import CHUNK_PROMPT, load_prompt
from knowledge.schemas import chunk_schema
from llm.llama_cpp import SEED, LlamaCppChatModel, bundled_gguf_path, load_llama
from retrieval.embedding import create_embedder

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "scifact"
QUESTIONS = 2


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


def run(n_chunks: int, threads: int = 2) -> dict[str, Any]:
    """Interleaved adapter vs raw runs over ``n_chunks`` chunks (plus one warm-up each)."""
    configure_offline()
    texts = sample_chunks(n_chunks + 1)
    path = bundled_gguf_path()
    adapter = LlamaCppChatModel(path, threads=threads, context_tokens=4096)
    raw = load_llama(path, threads=threads, context_tokens=4096)
    prompt = load_prompt(CHUNK_PROMPT, questions=QUESTIONS)
    schema = chunk_schema(QUESTIONS)
    max_tokens = 64 + 48 * QUESTIONS

    def via_adapter(text: str) -> tuple[int, float]:
        with tempfile.TemporaryDirectory() as cache_dir:
            generator = TeacherGenerator(adapter, GenerationCache.open(Path(cache_dir)), questions=QUESTIONS)
            result = generator.chunk_notes(text)
        return result.completion_tokens, result.seconds

    def via_raw(text: str) -> tuple[int, float]:
        started = time.perf_counter()
        response: Any = raw.create_chat_completion(
            messages=[{"role": "system", "content": prompt.system}, {"role": "user", "content": f"Passage:\n{text}"}],
            response_format={"type": "json_object", "schema": schema},
            max_tokens=max_tokens,
            temperature=0.0,
            top_p=0.95,
            seed=SEED,
        )
        return int(response["usage"]["completion_tokens"]), time.perf_counter() - started

    via_adapter(texts[0])
    via_raw(texts[0])
    rates: dict[str, list[float]] = {"adapter": [], "raw": []}
    tokens: dict[str, int] = {"adapter": 0, "raw": 0}
    seconds: dict[str, float] = {"adapter": 0.0, "raw": 0.0}
    paired: list[float] = []
    for i, text in enumerate(texts[1:]):
        order = [("adapter", via_adapter), ("raw", via_raw)]
        if i % 2:
            order.reverse()
        pair: dict[str, float] = {}
        for name, fn in order:
            n, s = fn(text)
            rates[name].append(n / s if s > 0 else 0.0)
            tokens[name] += n
            seconds[name] += s
            pair[name] = rates[name][-1]
        if pair["raw"] > 0:
            paired.append(pair["adapter"] / pair["raw"])
    return {
        "benchmark": "synth_throughput",
        "chunks": len(texts) - 1,
        "questions": QUESTIONS,
        "tokens_per_s_median": {k: statistics.median(v) for k, v in rates.items()},
        "tokens_per_s_overall": {k: tokens[k] / seconds[k] if seconds[k] else 0.0 for k in tokens},
        "seconds_per_chunk_mean": {k: seconds[k] / max(len(v), 1) for k, v in rates.items()},
        "adapter_vs_raw_paired_median": statistics.median(paired) if paired else 0.0,
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=12, help="chunks measured (after one warm-up)")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    report = run(args.chunks)
    med = report["tokens_per_s_median"]
    print("| path | tokens/s (median per chunk) | tokens/s (overall) | s per chunk (mean) |")
    print("|---|---|---|---|")
    for name in ("adapter", "raw"):
        print(
            f"| {name} | {med[name]:.1f} | {report['tokens_per_s_overall'][name]:.1f} | "
            f"{report['seconds_per_chunk_mean'][name]:.2f} |"
        )
    ratio = report["adapter_vs_raw_paired_median"]
    print(f"adapter / raw tokens/s, paired median: {ratio:.3f} ({report['chunks']} chunks)")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))
    return 0
