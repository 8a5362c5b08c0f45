"""The TorchScript forward pass: the same vectors as sentence-transformers ``encode`` for the bundled model,
batched and alone; a model of another shape keeps ``encode``; every ``embed_runtime`` gives the same vectors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder, bundled_model_path, load_embedder
from retrieval.torchscript import TOLERANCE, mean_pooled, trace_encoder

TEXTS = [
    "effect of caffeine on sleep",
    "What did the CFO say about operating margin in the third quarter of fiscal 2023?",
    "glacier",
    "",
    "Ünïcode — ✓ text with symbols € and 数字",
    "revenue " * 500,  # truncated at the model's window
    "Net revenue was $4.2 billion, up 12% year over year; services grew 18% and hardware 3%.",
]


def assert_reproduces_encode(model: Any, encode: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    """``encode`` gives ``model.encode``'s unit vectors for TEXTS, batched and one at a time; returns them."""
    expected: np.ndarray = model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    batched = encode(TEXTS)
    alone = np.stack([encode([t])[0] for t in TEXTS])
    assert batched.shape == expected.shape
    assert np.abs(batched - expected).max() < TOLERANCE
    assert np.abs(alone - expected).max() < TOLERANCE
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    return expected


def test_traced_encoder_reproduces_encode_batched_and_alone(embedder: SentenceTransformerEmbedder) -> None:
    traced = trace_encoder(embedder.model)
    assert traced is not None
    assert_reproduces_encode(embedder.model, traced.encode)


def test_every_runtime_setting_gives_the_same_vectors(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.runtime == "onnx"  # the default, for the bundled model
    traced = load_embedder(Settings(embed_runtime="torchscript"), bundled_model_path())
    plain = load_embedder(Settings(embed_runtime="torch"), bundled_model_path())
    assert (traced.runtime, plain.runtime) == ("torchscript", "torch")
    # More texts than one batch: the whole-pass paths sort by length, batch, and restore the order.
    texts = TEXTS * 12
    expected = np.array(plain.embed(texts))
    assert np.abs(np.array(embedder.embed(texts)) - expected).max() < TOLERANCE
    assert np.abs(np.array(traced.embed(texts)) - expected).max() < TOLERANCE


class _Module:
    def __init__(self, pooling_mode: str = "mean") -> None:
        self.pooling_mode = pooling_mode

    def get_config_dict(self) -> dict[str, str]:
        return {"pooling_mode": self.pooling_mode}


class Transformer(_Module):
    pass


class Pooling(_Module):
    pass


class Normalize(_Module):
    pass


class Dense(_Module):
    pass


def test_only_mean_pooled_transformers_are_traced() -> None:
    assert mean_pooled([Transformer(), Pooling()])
    assert mean_pooled([Transformer(), Pooling(), Normalize()])
    assert not mean_pooled([Transformer(), Pooling("cls"), Normalize()])
    assert not mean_pooled([Transformer(), Pooling(), Dense(), Normalize()])
    # Not traced: trace_encoder returns None and the embedder keeps encode.
    assert trace_encoder([Transformer(), Pooling("max")]) is None
