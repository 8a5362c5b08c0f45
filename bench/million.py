"""``python -m bench million [--smoke] [--chunks N]``: a million chunks on one machine, int8 quantization.

The index holds ``--chunks`` chunks loaded through the service's own Ingestor into a collection created
with ``SYNTHRAG_VECTOR_QUANTIZATION=int8`` and ``SYNTHRAG_VECTORS_ON_DISK=true``. Embedding a million texts
on 2 cores would take hours, so the first 100k chunks are the ``bench all`` corpus with their real
(cached) MiniLM embeddings and every further chunk joins two of them: its text is both texts, its
vector the normalized weighted sum of theirs. Queries are real text embedded by the real model.

Reported: load and ``optimize()`` time, disk size, dense recall@10 of the served search (HNSW over the
quantized copy, rescored) against exact float32 search, ``/v1/search`` latency per mode through
``synthrag serve`` (embedding included), and the service's RSS.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import qdrant_edge as qe

from app.components import build_components
from bench import corpus, memory, scale
from bench.latency import p50_p95
from bench.run_all import bulk_ingestor, log
from bench.stats import machine
from ingest.pipeline import IngestItem
from kernel.models import Document, SearchMode
from kernel.payload import DENSE_VECTOR
from kernel.settings import configure_offline, get_settings
from retrieval.embedding import create_embedder
from retrieval.stores.edge import EdgeStore

BENCH_DIR = Path(__file__).resolve().parent
COLLECTION = "million"
LAYOUT_ENV = {"SYNTHRAG_VECTOR_QUANTIZATION": "int8", "SYNTHRAG_VECTORS_ON_DISK": "true"}
FULL: dict[str, Any] = {"chunks": 1_000_000, "base": 100_000, "recall_queries": 100, "http_queries": 200}
SMOKE: dict[str, Any] = {"chunks": 3_000, "base": 600, "recall_queries": 10, "http_queries": 10}


class MixedCorpus:
    """Chunk ``i`` < base is base text ``i``; beyond, two base texts joined (fixed seed per chunk)."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray, n: int) -> None:
        self.texts, self.vectors, self.n = list(texts), vectors, n
        self._base = len(self.texts)

    def recipe(self, i: int) -> tuple[int, int, float]:
        rng = random.Random(i)
        return rng.randrange(self._base), rng.randrange(self._base), rng.uniform(0.3, 0.7)

    def text(self, i: int) -> str:
        if i < self._base:
            return self.texts[i]
        a, b, _ = self.recipe(i)
        return f"{self.texts[a]} {self.texts[b]}"

    def vector(self, i: int) -> np.ndarray:
        if i < self._base:
            return np.asarray(self.vectors[i], dtype=np.float32)
        a, b, w = self.recipe(i)
        v = w * self.vectors[a] + (1 - w) * self.vectors[b]
        return np.asarray(v / np.linalg.norm(v), dtype=np.float32)

    def items(self) -> Iterator[IngestItem]:
        for i in range(self.n):
            doc = Document(source=f"m-{i}.txt", format="txt", title=f"m {i}", text=self.text(i))
            yield IngestItem(document=doc, source_key=f"m-{i}")


class MixedEmbedder(corpus.CachedEmbedder):
    """The Embedder port over :class:`MixedCorpus` vectors (looked up by text), the real model otherwise."""

    def __init__(self, inner: Any, mixed: MixedCorpus) -> None:
        super().__init__(inner, [], mixed.vectors)
        self._mixed = mixed

    def remember(self, start: int, stop: int) -> None:
        """Index the texts of chunks ``start..stop`` (bounded memory: a window, not all of them)."""
        self._rows = {self._mixed.text(i): i for i in range(start, stop)}

    def vector_of(self, row: int) -> list[float]:
        return [float(x) for x in self._mixed.vector(row)]


def build(data: Path, cfg: dict[str, Any], embedder: Any) -> dict[str, Any]:
    """Load ``cfg['chunks']`` chunks through Ingestor, then ``optimize()``; times and sizes."""
    shutil.rmtree(data, ignore_errors=True)
    settings = get_settings(
        data_dir=data,
        collection=COLLECTION,
        context_headers=False,
        vector_quantization="int8",
        vectors_on_disk=True,
    )
    parts = corpus.corpus_parts(cfg["base"])
    texts, vectors, _ = corpus.corpus_embeddings(parts, embedder.model, embedder.model_id, log=log)
    mixed = MixedCorpus(texts, vectors, cfg["chunks"])
    components = build_components(settings, embedder=embedder)
    mixed_embedder = MixedEmbedder(embedder, mixed)
    bulk = bulk_ingestor(components, mixed_embedder)
    window = 50_000
    started = time.perf_counter()
    try:
        items = mixed.items()
        for start in range(0, mixed.n, window):
            stop = min(start + window, mixed.n)
            mixed_embedder.remember(start, stop)
            bulk.ingest(itertools.islice(items, stop - start), collection=COLLECTION)
            log(f"loaded {stop}/{mixed.n} ({time.perf_counter() - started:.0f} s)")
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        components.search.store.optimize(COLLECTION)
        optimize_s = time.perf_counter() - started
        log(f"optimize() {optimize_s:.0f} s")
        points = components.search.store.count(COLLECTION)
        recall = recall_at_10(components.search.store, embedder, cfg["recall_queries"])
    finally:
        components.close()
    return {
        "points": points,
        "load_s": round(load_s, 1),
        "optimize_s": round(optimize_s, 1),
        "disk_mb": round(_du(data) / 2**20, 1),
        "recall": recall,
    }


def recall_at_10(store: Any, embedder: Any, n: int) -> dict[str, Any]:
    """Dense top-10 as served (HNSW on the int8 copy, rescored) vs exact float32 search."""
    if not isinstance(store, EdgeStore):
        raise RuntimeError("the million-chunk benchmark runs on the embedded qdrant-edge store")
    shard = store.shard(COLLECTION)
    served = qe.SearchParams(quantization=qe.QuantizationSearchParams(rescore=True, oversampling=2.0))
    exact = qe.SearchParams(exact=True, quantization=qe.QuantizationSearchParams(ignore=True))
    hits = total = 0
    served_ms: list[float] = []
    for vector in embedder.embed(corpus.query_texts(n, seed=3)):

        def top(params: qe.SearchParams, vector: list[float] = vector) -> tuple[set[str], float]:
            request = qe.QueryRequest(
                query=qe.Query.Nearest(vector, using=DENSE_VECTOR), limit=10, with_payload=False, params=params
            )
            started = time.perf_counter()
            found = shard.query(request)
            return {str(p.id) for p in found}, (time.perf_counter() - started) * 1000

        truth, _ = top(exact)
        got, ms = top(served)
        served_ms.append(ms)
        hits += len(got & truth)
        total += len(truth)
    return {"queries": n, "recall_at_10": round(hits / total, 4), "served_store_ms": p50_p95(served_ms)}


def serve(data: Path, cfg: dict[str, Any], work: Path) -> dict[str, Any]:
    """``/v1/search`` per mode through ``synthrag serve`` (one client, modes in rotating order), and RSS."""
    queries = corpus.query_texts(cfg["http_queries"], seed=21)
    modes = [SearchMode.HYBRID, SearchMode.DENSE, SearchMode.BM25]
    ms: dict[str, list[float]] = {m.value: [] for m in modes}
    # The service's own account of each search (response ``timings``): embedding and store time.
    parts: dict[str, dict[str, list[float]]] = {m.value: {"embed_ms": [], "store_ms": []} for m in modes}
    with memory.ServeProcess(data, COLLECTION, work / "serve-million.log", LAYOUT_ENV) as server:
        rss_idle = memory.rss_mb(server.pid)
        with httpx.Client(base_url=server.base_url, timeout=60) as client, memory.RssSampler(server.pid) as rss:
            for text in queries[:5]:
                for mode in modes:
                    client.post("/v1/search", json={"query": text, "mode": mode.value}).raise_for_status()
            for i, text in enumerate(queries):
                # The order rotates: whichever mode asks first for a query pays its cold pages.
                for mode in modes[i % len(modes) :] + modes[: i % len(modes)]:
                    started = time.perf_counter()
                    response = client.post("/v1/search", json={"query": text, "mode": mode.value})
                    ms[mode.value].append((time.perf_counter() - started) * 1000)
                    timings = response.raise_for_status().json()["timings"]
                    for part, values in parts[mode.value].items():
                        values.append(timings[part])
        return {
            "startup_s": round(server.startup_s, 1),
            "rss_idle_mb": round(rss_idle, 1),
            "rss_peak_mb": rss.peak_mb,
            "http_ms": {mode: p50_p95(values) for mode, values in ms.items()},
            "service_ms": {
                mode: {part: p50_p95(values) for part, values in split.items()} for mode, split in parts.items()
            },
        }


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def goals(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) rows of issue 14's million-chunk criteria."""
    hybrid = results["service"]["http_ms"]["hybrid"]["p95"]
    recall = results["index"]["recall"]["recall_at_10"]
    rss = results["service"]["rss_peak_mb"]
    n = results["index"]["points"]
    return [
        (f"hybrid /v1/search p95 <= 25 ms at {n} chunks, incl. embedding", f"{hybrid} ms", hybrid <= 25),
        ("dense recall@10 >= 0.95 vs exact", str(recall), recall >= 0.95),
        ("service RSS <= 3 GB (peak while searching)", f"{rss} MiB", rss <= 3 * 1024),
    ]


def _pair(service: dict[str, Any], mode: str, part: str) -> str:
    """``p50/p95`` of one part of the service's timings (runs before the split was recorded: n/a)."""
    split = service.get("service_ms", {}).get(mode)
    return f"{split[part]['p50']}/{split[part]['p95']}" if split else "n/a"


def to_markdown(results: dict[str, Any]) -> str:
    """MILLION.md."""
    idx, svc = results["index"], results["service"]
    lines = [
        f"# {idx['points']:,} chunks on one machine",
        "",
        f"Generated by `python -m bench million{' --smoke' if results['mode'] == 'smoke' else ''}` in "
        f"{results['total_s']} s on {results['machine']['cores']} cores. Collection created with int8 scalar "
        "quantization (quantized copy in RAM) and original vectors on disk; searches rescore the quantized "
        "candidates with the originals (oversampling 2). Chunks past the first "
        f"{results['config']['base']:,} join two base chunks (text and normalized weighted vector); queries are "
        "real text embedded by the bundled MiniLM."
        + (f" The index and its build figures come from {idx['built_by']}." if "built_by" in idx else ""),
        "",
        "| goal | measured | met |",
        "|---|---|---|",
        *[f"| {g} | {m} | {'yes' if ok else '**no**'} |" for g, m, ok in results["goals"]],
        "",
        "| build | value |",
        "|---|---|",
        f"| load through Ingestor | {idx['load_s']} s |",
        f"| `optimize()` (HNSW + quantization) | {idx['optimize_s']} s |",
        f"| disk | {idx['disk_mb']} MiB |",
        f"| dense recall@10 vs exact ({idx['recall']['queries']} queries) | {idx['recall']['recall_at_10']} |",
        f"| served dense store time p50/p95 | {idx['recall']['served_store_ms']['p50']}"
        f"/{idx['recall']['served_store_ms']['p95']} ms |",
        f"| service start-up | {svc['startup_s']} s |",
        f"| service RSS idle / peak | {svc['rss_idle_mb']} / {svc['rss_peak_mb']} MiB |",
        "",
        "| mode | /v1/search p50 ms | p95 ms | of which embedding p50/p95 | store p50/p95 |",
        "|---|---|---|---|---|",
        *[
            f"| {mode} | {v['p50']} | {v['p95']} | {_pair(svc, mode, 'embed_ms')} | {_pair(svc, mode, 'store_ms')} |"
            for mode, v in svc["http_ms"].items()
        ],
        "",
        "Embedding and store time are the service's own (response `timings`): embedding includes the wait "
        "for the micro-batcher's worker thread; store time is everything after the vector (store query, "
        "fusion, hit building); the rest of the request is HTTP, JSON and the thread hops.",
    ]
    return "\n".join(lines) + "\n"


def run(smoke: bool, out_dir: Path, work: Path, chunks: int | None, *, reuse: bool = False) -> dict[str, Any]:
    """Build, measure, write MILLION.md and million.json. ``reuse``: measure the service on the index an earlier
    run left in ``work`` (its build figures are carried over from that run's million.json in ``out_dir``)."""
    configure_offline()
    cfg = dict(SMOKE if smoke else FULL)
    if chunks:
        cfg["chunks"] = chunks
    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"million-{cfg['chunks']}"
    previous = out_dir / "million.json"
    if reuse:
        earlier = json.loads(previous.read_text(encoding="utf-8")) if previous.is_file() else None
        if earlier is None or earlier["index"]["points"] != cfg["chunks"] or not data.is_dir():
            raise SystemExit(f"--reuse: no earlier {cfg['chunks']}-chunk run in {data} and {previous}")
        index = {**earlier["index"], "built_by": "an earlier run (--reuse)"}
    else:
        embedder = create_embedder(get_settings(data_dir=work / "unused"))
        index = build(data, cfg, embedder)
        del embedder
    service = serve(data, cfg, work)
    results: dict[str, Any] = {
        "mode": "smoke" if smoke else "full",
        "machine": machine(),
        "config": cfg,
        "index": index,
        "service": service,
        "total_s": 0.0,
    }
    results["goals"] = goals(results)
    results["total_s"] = round(time.perf_counter() - started, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "million.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / "MILLION.md").write_text(to_markdown(results), encoding="utf-8")
    scale.refresh(out_dir)  # RESULTS.md's "Throughput and scale" section
    return results


def main(argv: list[str] | None = None) -> int:
    """CLI."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="3,000 chunks (CI)")
    parser.add_argument("--chunks", type=int, default=None, help="index size (default 1,000,000)")
    parser.add_argument("--out", type=Path, default=None, help="where MILLION.md goes (default bench/)")
    parser.add_argument("--work", type=Path, default=None, help="scratch (default bench/out/run[-smoke])")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the service on the index an earlier run built (no rebuild)"
    )
    args = parser.parse_args(argv)
    out = args.out or (BENCH_DIR / "out" / "smoke" if args.smoke else BENCH_DIR)
    work = args.work or BENCH_DIR / "out" / ("run-smoke" if args.smoke else "run")
    results = run(args.smoke, out, work, args.chunks, reuse=args.reuse)
    print(to_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
