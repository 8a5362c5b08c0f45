"""The ONNX Runtime forward pass: the same vectors as sentence-transformers ``encode`` for the bundled model,
batched and alone, and after a long batch (the arena shrinks, the next pass is still right); a model of
another shape is not exported."""

from __future__ import annotations

import numpy as np

from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.onnx_encoder import onnx_encoder
from retrieval.torchscript import TOLERANCE
from tests.retrieval.test_torchscript import TEXTS, Pooling, Transformer, assert_reproduces_encode


def test_onnx_encoder_reproduces_encode_batched_and_alone(embedder: SentenceTransformerEmbedder) -> None:
    encoder = onnx_encoder(embedder.model, threads=2)
    assert encoder is not None
    expected = assert_reproduces_encode(embedder.model, encoder.encode)
    texts = [f"{i} revenue grew in every segment " * 80 for i in range(16)]  # full windows, a large pass
    long_expected = embedder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert np.abs(encoder.encode(texts) - long_expected).max() < TOLERANCE
    assert encoder.holds_arena  # a big pass keeps its memory for the next one
    again = encoder.encode(TEXTS)
    assert not encoder.holds_arena  # a small pass shrinks it
    assert np.abs(again - expected).max() < TOLERANCE
    encoder.encode(texts)
    encoder.release()
    assert not encoder.holds_arena
    assert np.abs(encoder.encode(TEXTS) - expected).max() < TOLERANCE


def test_the_embedder_serves_onnx_vectors_through_its_batcher(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.runtime == "onnx"
    expected = embedder.model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert np.abs(np.array(embedder.embed(TEXTS)) - expected).max() < TOLERANCE


def test_only_mean_pooled_transformers_are_exported() -> None:
    assert onnx_encoder([Transformer(), Pooling("cls")], threads=1) is None
    assert onnx_encoder([Transformer(), Pooling("max")], threads=1) is None
