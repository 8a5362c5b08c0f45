"""Micro-batching: concurrent calls share passes, results go back to the right caller, errors reach every
caller of the failed pass, a lone call never waits, and the real MiniLM gives the same vectors batched."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from kernel.errors import EmbeddingError
from retrieval.batching import IDLE_S, MicroBatcher
from retrieval.embedding import SentenceTransformerEmbedder

Vectors = list[list[float]]


def _vector(text: str) -> list[float]:
    return [float(len(text)), float(sum(map(ord, text)) % 997)]


class GatedEncoder:
    """Encodes deterministically; its first pass blocks until ``release`` so that calls pile up."""

    def __init__(self) -> None:
        self.passes: list[list[str]] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, texts: list[str]) -> Vectors:
        self.passes.append(list(texts))
        if len(self.passes) == 1:
            self.started.set()
            assert self.release.wait(30)
        return [_vector(t) for t in texts]


def _pile_up(batcher: MicroBatcher[str, list[float]], encoder: GatedEncoder, calls: list[list[str]]) -> list[Vectors]:
    """One call blocks the model; ``calls`` queue behind it (each waits inside ``run``); then release."""
    with ThreadPoolExecutor(len(calls) + 1) as pool:
        first = pool.submit(batcher.run, ["first"])
        assert encoder.started.wait(30)
        futures = [pool.submit(batcher.run, texts) for texts in calls]
        _wait_queued(batcher, len(calls))
        encoder.release.set()
        assert len(first.result(30)) == 1
        return [f.result(30) for f in futures]


def _wait_queued(batcher: MicroBatcher[str, list[float]], n: int) -> None:
    for _ in range(3000):
        if batcher.queued == n:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{batcher.queued} calls queued, expected {n}")


def test_queued_calls_share_one_pass_and_get_their_own_vectors() -> None:
    encoder = GatedEncoder()
    batcher = MicroBatcher(encoder, max_items=64)
    calls = [[f"query {i}"] for i in range(20)] + [["two", "texts"]]
    results = _pile_up(batcher, encoder, calls)
    assert results == [[_vector(t) for t in texts] for texts in calls]
    assert len(encoder.passes) == 2  # the blocking pass, then everyone else together
    assert sorted(encoder.passes[1]) == sorted(t for texts in calls for t in texts)
    stats = batcher.stats
    assert (stats.passes, stats.calls, stats.items, stats.largest) == (2, 22, 23, 22)


def test_a_pass_never_exceeds_max_texts_and_keeps_arrival_order() -> None:
    encoder = GatedEncoder()
    batcher = MicroBatcher(encoder, max_items=4)
    calls = [[f"q{i}"] for i in range(10)] + [[f"bulk{j}" for j in range(9)]]
    results = _pile_up(batcher, encoder, calls)
    assert results == [[_vector(t) for t in texts] for texts in calls]
    later = encoder.passes[1:]
    # A call bigger than a pass runs alone; the others fill passes of at most 4, oldest first.
    assert [len(p) for p in later if not p[0].startswith("bulk")] == [4, 4, 2]
    assert [p for p in later if p[0].startswith("bulk")] == [[f"bulk{j}" for j in range(9)]]
    singles = [t for p in later for t in p if not t.startswith("bulk")]
    assert set(singles) == {f"q{i}" for i in range(10)}


def test_an_encoder_error_reaches_every_caller_of_the_pass_and_the_next_pass_works() -> None:
    state = {"fail": True}
    gate = GatedEncoder()

    def flaky(texts: list[str]) -> Vectors:
        out = gate(texts)
        if state["fail"] and len(gate.passes) == 2:
            raise RuntimeError("model exploded")
        return out

    batcher = MicroBatcher(flaky, max_items=64)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(batcher.run, ["first"])
        assert gate.started.wait(30)
        futures = [pool.submit(batcher.run, [f"q{i}"]) for i in range(5)]
        _wait_queued(batcher, 5)
        gate.release.set()
        assert first.result(30) == [_vector("first")]
        for future in futures:
            with pytest.raises(RuntimeError, match="model exploded"):
                future.result(30)
    state["fail"] = False
    assert batcher.run(["after"]) == [_vector("after")]


def test_a_lone_call_does_not_wait_for_company() -> None:
    def encode(texts: list[str]) -> Vectors:
        return [_vector(t) for t in texts]

    # A 60 s wait would stall this test if a lone call waited for it.
    batcher = MicroBatcher(encode, max_items=64, wait_ms=60_000)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(batcher.run, ["alone"])
        assert future.result(10) == [_vector("alone")]
    assert batcher.run([]) == []


def test_with_company_the_leader_waits_until_the_pass_is_full() -> None:
    encoder = GatedEncoder()
    encoder.release.set()  # no blocking pass here: the wait gathers the calls
    batcher = MicroBatcher(encoder, max_items=3, wait_ms=60_000)
    barrier = threading.Barrier(3)

    def call(i: int) -> Vectors:
        barrier.wait(10)
        return batcher.run([f"q{i}"])

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(call, range(3)))
    assert results == [[_vector(f"q{i}")] for i in range(3)]
    # Either all three met in one pass, or a first lone call ran at once and the rest were gathered.
    assert [len(p) for p in encoder.passes] in ([3], [1, 2], [2, 1], [1, 1, 1])


def test_max_texts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_items"):
        MicroBatcher(lambda texts: [], max_items=0)


QUERIES = [
    "effect of caffeine on sleep",
    "What did the CFO say about operating margin in the third quarter of fiscal 2023?",
    "glacier",
    "how the railway company expanded a new shipping route during the drought",
    "vaccine trial results",
    "Which segment grew fastest, and what drove the growth according to management?",
    "coral reef bleaching and seasonal floods",
    "solar",
]


def _concurrently(fn: Callable[[str], list[list[float]]], texts: list[str]) -> list[list[list[float]]]:
    barrier = threading.Barrier(len(texts))

    def call(text: str) -> list[list[float]]:
        barrier.wait(30)
        return fn(text)

    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(call, texts))


def test_real_model_gives_the_same_vectors_batched_as_one_by_one(embedder: SentenceTransformerEmbedder) -> None:
    """The real MiniLM through the batcher with every query in one pass vs each query encoded alone."""
    alone = np.array([embedder.embed([q])[0] for q in QUERIES])
    encoder = GatedEncoder()

    def real(texts: list[str]) -> Vectors:
        encoder(texts)  # the first pass blocks, so the rest pile up into one
        return embedder.embed(texts)

    batcher = MicroBatcher(real, max_items=64)
    results = _pile_up(batcher, encoder, [[q] for q in QUERIES])
    assert [len(p) for p in encoder.passes] == [1, len(QUERIES)]
    batched = np.array([r[0] for r in results])
    # Padding to the longest query changes float rounding only (attention masks the pads).
    assert np.abs(batched - alone).max() < 1e-5
    assert (np.argsort(-(batched @ alone.T), axis=1)[:, 0] == np.arange(len(QUERIES))).all()


def test_embedder_under_concurrent_calls_matches_serial(embedder: SentenceTransformerEmbedder) -> None:
    serial = np.array([embedder.embed([q])[0] for q in QUERIES * 3])
    before = embedder.batching
    concurrent = np.array([v[0] for v in _concurrently(lambda q: embedder.embed([q]), QUERIES * 3)])
    after = embedder.batching
    assert np.abs(concurrent - serial).max() < 1e-5
    assert after.calls - before.calls == len(QUERIES) * 3
    assert after.passes - before.passes <= len(QUERIES) * 3


def test_embedding_errors_are_typed(embedder: SentenceTransformerEmbedder) -> None:
    class Broken:
        def encode(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("out of memory")

    real, fast = embedder._model, embedder._pass
    embedder._model, embedder._pass = Broken(), None
    try:
        with pytest.raises(EmbeddingError, match="out of memory"):
            embedder.embed(["x"])
        with pytest.raises(EmbeddingError, match="out of memory"):
            asyncio.run(embedder.embed_async(["x"]))
    finally:
        embedder._model, embedder._pass = real, fast
    assert len(embedder.embed(["x"])[0]) == embedder.dim


def test_coroutines_share_passes_with_threads_and_get_their_own_results() -> None:
    encoder = GatedEncoder()
    batcher = MicroBatcher(encoder, max_items=64)

    async def many() -> list[Vectors]:
        return await asyncio.gather(*(batcher.run_async([f"c{i}"]) for i in range(10)))

    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(batcher.run, ["first"])
        assert encoder.started.wait(30)
        coroutines = pool.submit(asyncio.run, many())
        threads = [pool.submit(batcher.run, [f"t{i}", f"u{i}"]) for i in range(1)]
        _wait_queued(batcher, 11)
        encoder.release.set()
        assert first.result(30) == [_vector("first")]
        assert coroutines.result(30) == [[_vector(f"c{i}")] for i in range(10)]
        assert threads[0].result(30) == [_vector("t0"), _vector("u0")]
    assert len(encoder.passes) == 2  # the blocking pass, then coroutines and thread together
    assert asyncio.run(batcher.run_async([])) == []


def test_a_cancelled_coroutine_does_not_disturb_its_pass() -> None:
    encoder = GatedEncoder()
    batcher = MicroBatcher(encoder, max_items=64)

    async def scenario() -> tuple[Vectors, bool]:
        first = asyncio.ensure_future(batcher.run_async(["first"]))
        await asyncio.to_thread(encoder.started.wait, 30)
        doomed = asyncio.ensure_future(batcher.run_async(["doomed"]))
        kept = asyncio.ensure_future(batcher.run_async(["kept"]))
        while batcher.queued < 2:
            await asyncio.sleep(0.01)
        doomed.cancel()
        encoder.release.set()
        await first
        return await kept, doomed.cancelled()

    kept, cancelled = asyncio.run(scenario())
    assert kept == [_vector("kept")] and cancelled
    assert batcher.run(["after"]) == [_vector("after")]


def test_real_model_async_matches_embed(embedder: SentenceTransformerEmbedder) -> None:
    serial = np.array([embedder.embed([q])[0] for q in QUERIES])

    async def together() -> list[list[list[float]]]:
        return await asyncio.gather(*(embedder.embed_async([q]) for q in QUERIES))

    concurrent = np.array([v[0] for v in asyncio.run(together())])
    assert np.abs(concurrent - serial).max() < 1e-5


def test_a_dropped_batcher_frees_its_model_and_its_worker_ends() -> None:
    class Model:
        def encode(self, texts: list[str]) -> Vectors:
            return [_vector(t) for t in texts]

    model = Model()
    batcher = MicroBatcher(model.encode, max_items=8, name="test-dropped-batcher")
    assert batcher.run(["x"]) == [_vector("x")]
    (worker,) = [t for t in threading.enumerate() if t.name == "test-dropped-batcher"]
    assert worker.is_alive()
    alive = weakref.ref(model)
    del batcher, model
    gc.collect()
    worker.join(10)
    assert not worker.is_alive()
    assert alive() is None


def _vectors(texts: list[str]) -> list[list[float]]:
    return [_vector(t) for t in texts]


def test_on_idle_runs_once_after_passes_when_no_call_comes() -> None:
    idle: list[float] = []
    done = threading.Event()

    def on_idle() -> None:
        idle.append(time.monotonic())
        done.set()

    batcher: MicroBatcher[str, list[float]] = MicroBatcher(_vectors, max_items=8, on_idle=on_idle)
    finished = time.monotonic()
    batcher.run(["a"])
    batcher.run(["b", "c"])
    assert done.wait(10)
    assert idle[0] - finished >= IDLE_S * 0.9  # not before the worker has waited
    time.sleep(IDLE_S * 3)
    assert len(idle) == 1  # once per busy spell, not on every poll
    batcher.run(["d"])
    deadline = time.monotonic() + 10
    while len(idle) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(idle) == 2


def test_a_failing_on_idle_leaves_the_worker_serving() -> None:
    def on_idle() -> None:
        raise RuntimeError("clean-up failed")

    batcher: MicroBatcher[str, list[float]] = MicroBatcher(_vectors, max_items=8, on_idle=on_idle)
    assert batcher.run(["a"]) == [_vector("a")]
    time.sleep(IDLE_S * 2)
    assert batcher.run(["b"]) == [_vector("b")]
