"""A TorchScript forward pass for mean-pooled sentence-transformers models: one GIL-free call per batch.

Why: ``SentenceTransformer.encode`` runs the transformer op by op from Python, and every op takes the
GIL back. In a server whose request threads hold the GIL most of the time, each of those hand-overs
waits for the holder, so a forward pass that takes 85 ms alone took over a second beside one busy
Python thread (measured; README "Throughput"). A traced module runs the whole graph in C++ with the
GIL released; only tokenization and the call itself need it.

The trace is only used for the shape it was checked on: a transformer, mean pooling, optionally a
normalization (the embedder always L2-normalizes), and it must reproduce ``encode`` on probe texts
(short, padded, truncated) to ``TOLERANCE``; otherwise :func:`trace_encoder` returns None and the
caller keeps ``encode``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

TOLERANCE = 1e-5
_PROBES = (
    "x",
    "What was the gross margin in the third quarter?",
    "Revenue grew 12% year over year, driven by services; operating expenses were flat. " * 3,
    "word " * 600,  # longer than any model's window: truncation must match
    "",
)


class TracedEncoder:
    """Tokenize with the model's own preprocessing, then one traced call: embeddings, L2-normalized."""

    def __init__(self, model: Any, traced: Any, keys: tuple[str, ...]) -> None:
        self._model = model
        self._traced = traced
        self._keys = keys

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        features = self._model.preprocess(list(texts))
        with torch.inference_mode():
            out = self._traced(*(features[key] for key in self._keys))
        result: np.ndarray = out.numpy()
        return result

    def release(self) -> None:
        """Nothing to give back: torch frees a pass's tensors when it ends."""


def mean_pooled(model: Any) -> bool:
    """True when ``model`` is [Transformer, Pooling(mean)] with at most a Normalize after it."""
    names = [type(module).__name__ for module in model]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return False
    return bool(model[1].get_config_dict().get("pooling_mode") == "mean")


def trace_encoder(model: Any) -> TracedEncoder | None:
    """A traced encoder equal to ``model.encode(..., normalize_embeddings=True)``, or None where that is not
    shown (another architecture, a failed trace, or probe vectors further apart than ``TOLERANCE``)."""
    if not mean_pooled(model) or getattr(model[0], "auto_model", None) is None:
        return None
    try:
        return _checked(model, _trace(model))
    except Exception as exc:  # tracing can fail in many ways on unusual models; encode still works
        log.warning("embedding: TorchScript trace failed (%s); using sentence-transformers encode", exc)
        return None


def pooled_module(model: Any) -> tuple[Any, tuple[str, ...], dict[str, Any]]:
    """The transformer with mean pooling and L2 normalization as one torch module, the names of its tensor
    inputs (in order), and a padded example batch of the model's own preprocessing (for tracing/export)."""
    import torch

    class _Encoder(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module, keys: tuple[str, ...]) -> None:
            super().__init__()
            self.transformer = transformer
            self.keys = keys

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            features = dict(zip(self.keys, inputs, strict=True))
            hidden = self.transformer(**features).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    # A padded example: the attention mask must be part of the graph (an unpadded one may let the
    # model drop the mask, and the trace would keep that shortcut for every later batch).
    example = model.preprocess(["a", "a longer example sentence, so that the first one is padded"])
    keys = tuple(key for key, value in example.items() if isinstance(value, torch.Tensor))
    if "attention_mask" not in keys:
        raise ValueError("the model's preprocessing gives no attention mask")
    return _Encoder(model[0].auto_model.eval(), keys), keys, example


def _trace(model: Any) -> TracedEncoder:
    import torch

    encoder, keys, example = pooled_module(model)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # deprecation and tracer notes; the probes below are the check
        traced = torch.jit.trace(  # type: ignore[no-untyped-call]
            encoder, tuple(example[key] for key in keys), check_trace=False
        )
    return TracedEncoder(model, traced, keys)


def encode_gap(model: Any, encode: Callable[[Sequence[str]], np.ndarray]) -> float:
    """Largest absolute difference between ``encode`` and ``model.encode`` on the probe texts (short,
    padded, truncated, empty), batched and one at a time."""
    texts = list(_PROBES)
    expected = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    batched = encode(texts)
    alone = np.stack([encode([text])[0] for text in texts])
    return float(max(np.abs(batched - expected).max(), np.abs(alone - expected).max()))


def _checked(model: Any, encoder: TracedEncoder) -> TracedEncoder | None:
    gap = encode_gap(model, encoder.encode)
    if gap > TOLERANCE:
        log.warning("embedding: TorchScript trace differs from encode by %.2g; using encode", gap)
        return None
    return encoder
