"""An ONNX Runtime forward pass for mean-pooled sentence-transformers models: faster, GIL-free, same vectors.

Why: on this 2-core machine a lone short query took 7.3 ms through the traced TorchScript module and
3.0 ms through ONNX Runtime (same graph: transformer, mean pooling, L2 normalization), and a pass of 32
queries 86 vs 63 ms (a probe); through the service, one client's /v1/search p50 was 9.5 vs 16.0 ms and
50 clients got 206 vs 185 searches/s (``python -m bench throughput``, README "Throughput"). ONNX
Runtime, like the traced module, releases the GIL for the whole call.

The module of :func:`retrieval.torchscript.pooled_module` is exported in memory at load (no file, no
download) and used only where it reproduces ``encode`` on the probe texts to ``TOLERANCE``; otherwise
:func:`onnx_encoder` returns None and the caller falls back. Two session settings matter on a small
machine: the intra-op threads do not spin between calls (spinning threads would take the cores from
the store search and the HTTP work of other requests), and the memory arena shrinks after each call
(in a probe, 64 long chunks grew RSS by ~1 GB otherwise). Shrinking costs the next pass its allocations
again: 8 passes of 64 long chunks took 6.36 s shrinking after each against 5.81 s without (torch's
``encode`` 5.77 s; a probe, medians of 4). So a big pass (``BIG_PASS_TOKENS`` token positions or more: an
ingest batch, not a batch of queries) keeps the arena for the next one, and the arena shrinks after the
next small pass or when the embedder has been idle for a moment (:meth:`OnnxEncoder.release`, called by
the micro-batcher's worker).
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from retrieval.torchscript import TOLERANCE, encode_gap, mean_pooled, pooled_module

log = logging.getLogger(__name__)

_OPSET = 17
#: Token positions (texts x padded length) from which a pass keeps its memory arena for the next pass.
BIG_PASS_TOKENS = 4096


class OnnxEncoder:
    """Tokenize with the model's own preprocessing, then one ONNX Runtime call: embeddings, L2-normalized."""

    def __init__(self, model: Any, session: Any, keys: tuple[str, ...], shrink: Any, keep: Any) -> None:
        """``shrink``/``keep``: run options that shrink the memory arena after the call, or leave it."""
        self._model = model
        self._session = session
        self._keys = keys
        self._shrink = shrink
        self._keep = keep
        self._grown = False  # the last pass kept its arena

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        features = self._model.preprocess(list(texts))
        feed = {key: features[key].numpy() for key in self._keys}
        big = feed[self._keys[0]].size >= BIG_PASS_TOKENS
        out: np.ndarray = self._session.run(None, feed, self._keep if big else self._shrink)[0]
        self._grown = big
        return out

    @property
    def holds_arena(self) -> bool:
        """Whether the last pass was a big one that kept its memory arena."""
        return self._grown

    def release(self) -> None:
        """Give back the memory a big pass kept (a one-text pass that shrinks the arena); no-op otherwise."""
        if self._grown:
            self.encode([""])


def onnx_encoder(model: Any, *, threads: int) -> OnnxEncoder | None:
    """An ONNX Runtime encoder equal to ``model.encode(..., normalize_embeddings=True)``, or None where that
    is not shown (another architecture, onnxruntime missing, a failed export, or probe vectors further
    apart than ``TOLERANCE``)."""
    if not mean_pooled(model) or getattr(model[0], "auto_model", None) is None:
        return None
    try:
        encoder = _export(model, threads)
        gap = encode_gap(model, encoder.encode)
    except Exception as exc:  # export and session creation can fail in many ways; other passes still work
        log.warning("embedding: ONNX export failed (%s)", exc)
        return None
    if gap > TOLERANCE:
        log.warning("embedding: ONNX pass differs from encode by %.2g; not used", gap)
        return None
    return encoder


def _export(model: Any, threads: int) -> OnnxEncoder:
    import onnxruntime as ort
    import torch

    module, keys, example = pooled_module(model)
    buffer = io.BytesIO()
    dynamic = {key: {0: "batch", 1: "tokens"} for key in keys}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # exporter notes; the probes are the check
        torch.onnx.export(
            module,
            tuple(example[key] for key in keys),
            buffer,  # type: ignore[arg-type]  # the TorchScript-based exporter writes to a file object too
            input_names=list(keys),
            output_names=["embedding"],
            dynamic_axes={**dynamic, "embedding": {0: "batch"}},
            opset_version=_OPSET,
            dynamo=False,
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    shrink = ort.RunOptions()
    shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return OnnxEncoder(model, session, keys, shrink, ort.RunOptions())
