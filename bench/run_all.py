"""``python -m bench all [--smoke]``: every benchmark in one run; writes RESULTS.md and results.json."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from app.components import Components, build_components
from bench import answer_latency, corpus, ingest_bench, latency, load, memory, recall, report, scale
from bench.stats import machine
from ingest.bm25_stats import Bm25Stats
from ingest.pipeline import Ingestor
from kernel.settings import configure_offline, get_settings
from retrieval.embedding import create_embedder

COLLECTION = "bench"
BENCH_DIR = Path(__file__).resolve().parent

FULL: dict[str, Any] = {
    "tiers": [10_000, 100_000],
    "latency_queries": 200,
    "http_queries": 100,
    "before_after_queries": 40,
    "recall_queries": 100,
    "ingest_texts": 512,
    "ingest_reps": 12,
    "search_clients": 50,
    "search_seconds": 20.0,
    "chat_clients": 20,
    "chat_seconds": 20.0,
    "chat_max_tokens": 32,
    "chat_timeout_s": 120.0,
    "answer_reps": 3,
    "answer_max_tokens": 64,
    "env": {},
}
SMOKE: dict[str, Any] = {
    **FULL,
    "tiers": [200],
    "latency_queries": 10,
    "http_queries": 10,
    "before_after_queries": 5,
    "recall_queries": 10,
    "ingest_texts": 32,
    "ingest_reps": 1,
    "search_clients": 50,
    "search_seconds": 3.0,
    "chat_clients": 3,
    "chat_seconds": 1.0,
    "chat_max_tokens": 4,
    "chat_timeout_s": 60.0,
    "answer_reps": 1,
    "answer_max_tokens": 4,
    # Small prompts and a one-place queue: 3 chat clients still meet a 429, in seconds.
    "env": {"SYNTHRAG_ANSWER_K": "1", "SYNTHRAG_ANSWER_SOURCE_CHARS": "300", "SYNTHRAG_GENERATION_QUEUE": "1"},
}


def log(message: str) -> None:
    """Progress on stderr, with a time stamp."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bulk_ingestor(components: Components, embedder: Any) -> Ingestor:
    """The Ingestor of ``components`` with ``embedder`` (cached or made-up vectors) and 1,024-chunk batches."""
    settings = components.settings
    return Ingestor(
        store=components.search.store,
        collections=components.search.store,
        bm25=Bm25Stats(components.ingest.db),
        embedder=embedder,
        sparse=components.search.sparse,
        chunk_max_tokens=settings.chunk_max_tokens,
        chunk_overlap_tokens=settings.chunk_overlap_tokens,
        batch_chunks=1024,
        context_headers=settings.context_headers,
    )


def load_tier(work: Path, n: int, embedder: Any) -> tuple[Components, list[str], float, float]:
    """A fresh index of ``n`` synthetic chunks in ``work/data-<n>`` loaded through Ingestor (embeddings
    from the cache): the components on it, the chunk texts, the load time and the seconds spent
    encoding texts missing from the cache."""
    data_dir = work / f"data-{n}"
    shutil.rmtree(data_dir, ignore_errors=True)
    # The generated chunks have made-up titles ("bench 12"): a context header would only add noise, and
    # the cached embeddings (and the ingest-vs-encode ratio) are of the chunk texts themselves.
    settings = get_settings(data_dir=data_dir, collection=COLLECTION, context_headers=False)
    texts, vectors, encode_s = corpus.corpus_embeddings(
        corpus.corpus_parts(n), embedder.model, embedder.model_id, log=log
    )
    components = build_components(settings, embedder=embedder)
    bulk = bulk_ingestor(components, corpus.CachedEmbedder(embedder, texts, vectors))
    started = time.perf_counter()
    bulk.ingest(corpus.items(texts), collection=COLLECTION)
    return components, texts, time.perf_counter() - started, encode_s


def build_tier(work: Path, n: int, embedder: Any, cfg: dict[str, Any]) -> tuple[Components, dict[str, Any]]:
    """:func:`load_tier`, with store latency measured before and after ``optimize()``."""
    components, texts, load_s, encode_s = load_tier(work, n, embedder)
    points = components.search.store.count(COLLECTION)
    log(f"tier {n}: {points} points loaded in {load_s:.0f} s; measuring before optimize()")
    queries = corpus.query_texts(cfg["before_after_queries"], seed=corpus.SEED + 7)
    before = latency.store_only_latency(components, COLLECTION, queries)
    started = time.perf_counter()
    components.search.store.optimize(COLLECTION)
    optimize_s = time.perf_counter() - started
    after = latency.store_only_latency(components, COLLECTION, queries)
    log(f"tier {n}: optimize() took {optimize_s:.0f} s")
    info = {
        "points": points,
        "words_per_chunk": _words(texts),
        "embedding_encode_s": round(encode_s, 1),
        "bulk_load_s": round(load_s, 1),
        "optimize_s": round(optimize_s, 1),
        "store_ms_before_optimize": before,
        "store_ms_after_optimize": after,
    }
    return components, info


def _words(texts: list[str]) -> dict[str, float]:
    counts = sorted(len(t.split()) for t in texts)
    return {
        "min": counts[0],
        "median": counts[len(counts) // 2],
        "max": counts[-1],
        "mean": round(sum(counts) / len(counts), 1),
    }


def run_tier(work: Path, n: int, embedder: Any, cfg: dict[str, Any], *, first: bool, last: bool) -> dict[str, Any]:
    """Everything measured in-process on one index size."""
    components, row = build_tier(work, n, embedder, cfg)
    queries = corpus.query_texts(cfg["latency_queries"])
    try:
        row["searcher"] = latency.searcher_latency(components, COLLECTION, queries)
        if last:
            log(f"tier {n}: recall")
            row["recall"] = recall.recall_at_k(
                components, COLLECTION, corpus.query_texts(cfg["recall_queries"], seed=3)
            )
        if first:
            log("ingest throughput vs raw encode")
            texts = corpus.corpus_parts(cfg["ingest_texts"])[0]
            row["ingest"] = ingest_bench.ingest_vs_encode(components, texts, cfg["ingest_reps"])
    finally:
        components.close()
    log(f"tier {n}: /v1/search over HTTP vs raw components")
    row["http_vs_raw"] = http_vs_raw_tier(work, n, embedder, cfg, queries[: cfg["http_queries"]])
    return row


def http_vs_raw_tier(work: Path, n: int, embedder: Any, cfg: dict[str, Any], queries: list[str]) -> dict[str, Any]:
    """``synthrag serve`` in its own process on the index vs the raw components in this process on a
    copy of it (a qdrant-edge directory opens in one process only). A uvicorn thread inside the
    measuring process would add tens of ms of GIL hand-offs per request that a real deployment has not."""
    data = work / f"data-{n}"
    copy = work / f"data-{n}-raw"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(data, copy)
    components = build_components(get_settings(data_dir=copy, collection=COLLECTION), embedder=embedder)
    try:
        with memory.ServeProcess(data, COLLECTION, work / f"serve-{n}.log", cfg["env"]) as server:
            return latency.http_vs_raw(server.base_url, components, COLLECTION, queries)
    finally:
        components.close()
        shutil.rmtree(copy, ignore_errors=True)


def run_service(work: Path, n: int, cfg: dict[str, Any]) -> dict[str, Any]:
    """Memory and load against ``synthrag serve`` in its own process on the largest index."""
    out: dict[str, Any] = {}
    with memory.ServeProcess(work / f"data-{n}", COLLECTION, work / "serve.log", cfg["env"]) as server:
        out["startup_s"] = round(server.startup_s, 1)
        time.sleep(2)
        out["rss_idle_mb"] = round(memory.rss_mb(server.pid), 1)
        queries = corpus.query_texts(200, seed=11)
        log(f"search load: {cfg['search_clients']} clients, {cfg['search_seconds']} s")
        with memory.RssSampler(server.pid) as rss:
            out["search_load"] = load.search_load(
                server.base_url, queries, cfg["search_clients"], cfg["search_seconds"]
            )
        out["rss_search_load_peak_mb"] = rss.peak_mb
        log(f"chat load: {cfg['chat_clients']} clients, {cfg['chat_seconds']} s")
        questions = [q[0].upper() + q[1:] + "?" for q in corpus.query_texts(50, seed=13)]
        with memory.RssSampler(server.pid) as rss:
            out["chat_load"] = load.chat_load(
                server.base_url,
                questions,
                clients=cfg["chat_clients"],
                seconds=cfg["chat_seconds"],
                max_tokens=cfg["chat_max_tokens"],
                timeout_s=cfg["chat_timeout_s"],
            )
        out["rss_chat_load_peak_mb"] = rss.peak_mb
        out["rss_after_mb"] = round(memory.rss_mb(server.pid), 1)
    return out


def run(smoke: bool, out_dir: Path, work: Path) -> dict[str, Any]:
    """All sections; returns the results dictionary (also written to ``out_dir``)."""
    configure_offline()
    cfg = SMOKE if smoke else FULL
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    settings = get_settings(data_dir=work / "unused")
    embedder = create_embedder(settings)
    results: dict[str, Any] = {"mode": "smoke" if smoke else "full", "machine": machine(), "config": cfg, "tiers": {}}
    tiers: list[int] = cfg["tiers"]
    for i, n in enumerate(tiers):
        log(f"tier {n}")
        results["tiers"][str(n)] = run_tier(work, n, embedder, cfg, first=i == 0, last=i == len(tiers) - 1)
    del embedder
    log("service process: memory and load")
    results["service"] = run_service(work, tiers[-1], cfg)
    log("generation: service vs raw llama-cpp")
    saved = {key: os.environ.get(key) for key in cfg["env"]}
    os.environ.update(cfg["env"])
    try:
        results["generation"] = answer_latency.run(cfg["answer_reps"], cfg["answer_max_tokens"])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    results["total_s"] = round(time.perf_counter() - started, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / "RESULTS.md").write_text(report.to_markdown(results), encoding="utf-8")
    scale.refresh(out_dir)  # RESULTS.md's "Throughput and scale" section
    return results


def main(argv: list[str] | None = None) -> int:
    """CLI of the whole suite."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few hundred chunks, seconds of load (CI)")
    parser.add_argument("--out", type=Path, default=None, help="where RESULTS.md and results.json go (default bench/)")
    parser.add_argument("--work", type=Path, default=None, help="scratch indexes (default bench/out/run[-smoke])")
    args = parser.parse_args(argv)
    out = args.out or (BENCH_DIR / "out" / "smoke" if args.smoke else BENCH_DIR)
    work = args.work or BENCH_DIR / "out" / ("run-smoke" if args.smoke else "run")
    results = run(args.smoke, out, work)
    print(report.to_markdown(results))
    log(f"done in {results['total_s']} s; wrote {out / 'RESULTS.md'} and {out / 'results.json'}")
    return 0
