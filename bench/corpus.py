"""Synthetic but realistic chunk texts (fixed seed), cached embeddings, and building an index from them."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest.pipeline import IngestItem
from kernel.models import Document

OUT_DIR = Path(__file__).resolve().parent / "out"
SEED = 20240611

_SUBJECTS = (
    "the river delta",
    "a honeybee colony",
    "the old lighthouse",
    "the city council",
    "a sourdough starter",
    "the volcano",
    "the research team",
    "a migrating flock",
    "the coral reef",
    "the railway company",
    "the orchestra",
    "a glacier",
    "the printing press",
    "the vaccine trial",
    "a solar panel array",
    "the medieval monastery",
    "the startup",
    "a wind turbine",
    "the archive",
    "the marathon runner",
    "the telescope",
    "a coffee plantation",
    "the submarine cable",
    "the library",
    "a wolf pack",
)
_VERBS = (
    "recorded",
    "reshaped",
    "depended on",
    "survived",
    "measured",
    "produced",
    "rejected",
    "expanded",
    "documented",
    "protected",
    "consumed",
    "replaced",
    "studied",
    "restored",
    "exported",
    "predicted",
    "funded",
    "delayed",
    "powered",
    "attracted",
    "supplied",
    "damaged",
    "monitored",
    "inspired",
)
_OBJECTS = (
    "seasonal floods",
    "nectar from clover fields",
    "a new shipping route",
    "the annual budget",
    "wild yeast",
    "basaltic lava flows",
    "protein folding data",
    "northern wetlands",
    "bleaching events",
    "steam locomotives",
    "a forgotten symphony",
    "meltwater channels",
    "cheap pamphlets",
    "antibody levels",
    "peak electricity demand",
    "illuminated manuscripts",
    "venture capital",
    "offshore gusts",
    "parish registers",
    "interval training",
    "distant galaxies",
    "arabica harvests",
    "transatlantic traffic",
    "rare first editions",
    "elk herds",
    "groundwater reserves",
    "copper prices",
    "the school curriculum",
    "coastal erosion",
    "fibre optic lines",
)
_TIMES = (
    "in 1822",
    "during the drought",
    "after the storm",
    "every spring",
    "for three decades",
    "in the last census",
    "before the war",
    "within a single season",
    "over the winter",
    "since the merger",
    "at high altitude",
    "in early trials",
    "at dawn",
    "throughout the nineteenth century",
    "during the renovation",
)
_REASONS = (
    "because rainfall had doubled",
    "although funding was scarce",
    "while engineers argued about costs",
    "since local farmers needed water",
    "as temperatures kept rising",
    "despite strong public opposition",
    "so that visitors could return",
    "after a careful survey of the site",
    "when the old methods failed",
    "because the data were incomplete",
    "as demand grew across the region",
    "until regulators intervened",
)
_ADJ = ("remarkable", "modest", "steady", "sudden", "lasting", "surprising", "gradual", "costly", "measurable")
_NOUNS = ("increase", "decline", "shift", "improvement", "recovery", "change", "drop", "gain", "revival")
_TEMPLATES = (
    "{S} {V} {O} {T} {R}.",
    "{T}, {S} {V} {O}, which led to a {A} {N} in output.",
    "Researchers noted that {S} {V} {O} {T}.",
    "According to local records, {S} {V} {O} {R}.",
    "A {A} {N} followed once {S} {V} {O}.",
    "Critics said {S} {V} {O} {T}, {R}.",
    "{S} has {V} {O} {T}, and observers expect a {A} {N}.",
)
_Q_TEMPLATES = (
    "what {V} {O}",
    "why did {S} {V} {O}",
    "how {S} {V} {O} {T}",
    "{S} {O}",
    "when was {O} {V}",
    "effect of {O} on {S}",
)


def _fill(rng: random.Random, template: str) -> str:
    return template.format(
        S=rng.choice(_SUBJECTS),
        V=rng.choice(_VERBS),
        O=rng.choice(_OBJECTS),
        T=rng.choice(_TIMES),
        R=rng.choice(_REASONS),
        A=rng.choice(_ADJ),
        N=rng.choice(_NOUNS),
    )


def chunk_texts(n: int, *, min_words: int = 40, max_words: int = 60, seed: int = SEED) -> list[str]:
    """``n`` varied paragraphs of ``min_words``..``max_words`` words; the same seed gives the same texts,
    and the first m of n texts are the m texts (a 10k corpus is a prefix of the 100k one)."""
    rng = random.Random(seed)
    texts: list[str] = []
    for i in range(n):
        target = rng.randint(min_words, max_words)
        words: list[str] = [f"Record {i}:"]
        while sum(len(s.split()) for s in words) < target:
            sentence = _fill(rng, rng.choice(_TEMPLATES))
            words.append(sentence[0].upper() + sentence[1:])
        text = " ".join(words)
        texts.append(" ".join(text.split()[:max_words]))
    return texts


def query_texts(n: int, *, seed: int = SEED + 1) -> list[str]:
    """Short search queries over the same vocabulary."""
    rng = random.Random(seed)
    return [_fill(rng, rng.choice(_Q_TEMPLATES)) for _ in range(n)]


def items(texts: Sequence[str], *, prefix: str = "syn") -> Iterator[IngestItem]:
    """One single-chunk document per text."""
    for i, text in enumerate(texts):
        doc = Document(source=f"{prefix}-{i}.txt", format="txt", title=f"{prefix} {i}", text=text)
        yield IngestItem(document=doc, source_key=f"{prefix}-{i}")


def texts_key(texts: Sequence[str], model_id: str) -> str:
    """Cache key of the embeddings of these texts by this model."""
    digest = hashlib.sha256(model_id.encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:24]


BLOCK = 4096


def cached_embeddings(
    texts: Sequence[str], model: Any, model_id: str, *, batch_size: int = 64, log: Any = print
) -> tuple[np.ndarray, float | None]:
    """Normalized float32 embeddings of ``texts``, cached in ``bench/out`` per block of 4096 texts
    (an interrupted run keeps its finished blocks; a longer corpus reuses a shorter one's).

    Returns the array and the seconds spent encoding (None when all came from the cache).
    """
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    parts: list[np.ndarray] = []
    encoded = False
    for start in range(0, len(texts), BLOCK):
        block = list(texts[start : start + BLOCK])
        path = OUT_DIR / f"emb-{texts_key(block, model_id)}.npy"
        if path.is_file():
            parts.append(np.load(path))
            continue
        vectors = model.encode(
            block, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        ).astype(np.float32)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
        parts.append(vectors)
        encoded = True
        log(f"  embedded {start + len(block)}/{len(texts)} ({time.perf_counter() - started:.0f} s)")
    return np.concatenate(parts), (time.perf_counter() - started) if encoded else None


class CachedEmbedder:
    """The Embedder port over precomputed vectors for known texts, the real model for anything else."""

    def __init__(self, inner: Any, texts: Sequence[str], vectors: np.ndarray) -> None:
        self._inner = inner
        self._rows = {text: i for i, text in enumerate(texts)}
        self._vectors = vectors

    @property
    def model_id(self) -> str:
        return str(self._inner.model_id)

    @property
    def dim(self) -> int:
        return int(self._inner.dim)

    @property
    def max_tokens(self) -> int:
        return int(self._inner.max_tokens)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        rows = [self._rows.get(t) for t in texts]
        if any(r is None for r in rows):
            return list(self._inner.embed(texts))
        return [self.vector_of(r) for r in rows if r is not None]

    async def embed_async(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)

    def vector_of(self, row: int) -> list[float]:
        """The vector of known text number ``row``."""
        return [float(x) for x in self._vectors[row]]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return list(self._inner.count_tokens(texts))


LONG_WORDS = (40, 60)
SHORT_WORDS = (10, 16)


def corpus_parts(n: int, *, long_n: int = 10_000) -> list[list[str]]:
    """The benchmark corpus of ``n`` chunks in cacheable parts: up to ``long_n`` chunks of 40-60 words,
    the rest short chunks of 10-16 words (embedding 100k long chunks on 2 cores takes far too long)."""
    parts = [chunk_texts(min(n, long_n), min_words=LONG_WORDS[0], max_words=LONG_WORDS[1])]
    if n > long_n:
        short = chunk_texts(n - long_n, min_words=SHORT_WORDS[0], max_words=SHORT_WORDS[1], seed=SEED + 2)
        parts.append([f"Note {t}" for t in short])
    return parts


def corpus_embeddings(
    parts: list[list[str]], model: Any, model_id: str, *, log: Any = print
) -> tuple[list[str], np.ndarray, float]:
    """All texts, their embeddings (cached per part), and seconds spent encoding in this call."""
    texts: list[str] = []
    arrays: list[np.ndarray] = []
    spent = 0.0
    for part in parts:
        vectors, seconds = cached_embeddings(part, model, model_id, log=log)
        texts.extend(part)
        arrays.append(vectors)
        spent += seconds or 0.0
    return texts, np.concatenate(arrays), spent
