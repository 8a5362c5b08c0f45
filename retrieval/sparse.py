"""BM25 sparse encoder on qdrant-edge's built-in ``Bm25`` (same tokens and formula as Qdrant server)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from qdrant_edge import Bm25, Bm25Config, SparseVector

from kernel.models import SparseVec

# With b = 0 a document weight is v = tf * (k + 1) / (tf + k), independent of length and avg_len.
# A large k keeps v nearly linear in tf, so inverting it (tf = v * k / (k + 1 - v)) stays exact
# in float32 even for terms repeated thousands of times; with k = 1.2 v saturates near 2.2.
_COUNT_K = 10_000.0
_CACHE_SIZE = 8


def _to_sparse_vec(vector: SparseVector) -> SparseVec:
    return SparseVec(indices=[int(i) for i in vector.indices], values=[float(v) for v in vector.values])


class Bm25Encoder:
    """SparseEncoder for English text: Snowball stemming, English stopwords, lowercase."""

    def __init__(self, *, k: float = 1.2, b: float = 0.75) -> None:
        """Args: k: term-frequency saturation; b: length normalisation (0 = none, 1 = full)."""
        self._k = k
        self._b = b
        self._query_model = Bm25(Bm25Config(k=k, b=b))
        self._count_model = Bm25(Bm25Config(k=_COUNT_K, b=0.0))
        # avg_len changes with every ingest batch; keep only the few recent models.
        self._models: OrderedDict[float, Bm25] = OrderedDict()
        self._lock = threading.Lock()

    def _document_model(self, avg_len: float) -> Bm25:
        if avg_len <= 0:
            raise ValueError(f"avg_len must be positive, got {avg_len}")
        with self._lock:
            model = self._models.get(avg_len)
            if model is None:
                model = Bm25(Bm25Config(k=self._k, b=self._b, avg_len=avg_len))
                self._models[avg_len] = model
                if len(self._models) > _CACHE_SIZE:
                    self._models.popitem(last=False)
            else:
                self._models.move_to_end(avg_len)
            return model

    def encode_documents(self, texts: Sequence[str], *, avg_len: float) -> list[SparseVec]:
        """Encode documents with saturated, length-normalised term frequencies.

        Args:
            texts: Document texts.
            avg_len: Average document length of the corpus in BM25 tokens (see :meth:`lengths`).

        Returns:
            One sparse vector per text (empty for a text with no indexable tokens).
        """
        model = self._document_model(avg_len)
        return [_to_sparse_vec(model.embed_document(text)) for text in texts]

    def encode_query(self, text: str) -> SparseVec:
        """Encode a query: weight 1 for each unique term (the store applies IDF)."""
        return _to_sparse_vec(self._query_model.embed_query(text))

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """Document lengths in BM25 tokens (after stopword removal and stemming).

        Recovers each term frequency from a b = 0 encoding and sums them, so the count uses
        exactly the tokenizer that :meth:`encode_documents` uses.
        """
        k = _COUNT_K
        lengths = []
        for text in texts:
            values = self._count_model.embed_document(text).values
            lengths.append(sum(round(v * k / (k + 1.0 - v)) for v in values))
        return lengths
