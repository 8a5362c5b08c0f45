"""Bm25Encoder: token counts by hand, BM25 weights by formula, query encoding."""

from __future__ import annotations

import pytest

from kernel.models import SparseVec
from kernel.ports import SparseEncoder
from retrieval.sparse import Bm25Encoder

# English stopwords ("the", "over") are dropped and "Dogs"/"dogs" stem to one term:
# quick, brown, foxes, jumped, lazy, dogs, dogs -> 7 tokens, 6 distinct, "dog" twice.
TEXT = "The quick brown foxes jumped over the lazy dogs. Dogs!"


@pytest.fixture
def enc() -> Bm25Encoder:
    return Bm25Encoder()


def test_lengths_match_a_hand_count(enc: Bm25Encoder) -> None:
    assert enc.lengths([TEXT, "", "the and of", "kiwi " * 3000]) == [7, 0, 0, 3000]


def test_document_weights_follow_bm25(enc: Bm25Encoder) -> None:
    # v = tf * (k + 1) / (tf + k * (1 - b + b * len / avg_len)), k = 1.2, b = 0.75.
    # len == avg_len: tf 1 -> 2.2 / 2.2 = 1.0; tf 2 -> 4.4 / 3.2 = 1.375.
    (vec,) = enc.encode_documents([TEXT], avg_len=7)
    assert isinstance(vec, SparseVec)
    assert len(vec.indices) == 6
    assert sorted(vec.values) == pytest.approx([1.0] * 5 + [1.375], rel=1e-6)
    # avg_len = 2 * len: the norm is 1 - 0.75 + 0.75 * 0.5 = 0.625, tf 1 -> 2.2 / (1 + 0.75) = 1.257143.
    (longer,) = enc.encode_documents([TEXT], avg_len=14)
    assert min(longer.values) == pytest.approx(2.2 / 1.75, rel=1e-6)
    assert longer.indices == vec.indices


def test_query_weights_each_unique_term_once(enc: Bm25Encoder) -> None:
    query = enc.encode_query("dogs dog DOGS fox")
    assert query.values == [1.0, 1.0]
    (doc,) = enc.encode_documents([TEXT], avg_len=7)
    dog_weight = dict(zip(doc.indices, doc.values, strict=True))
    assert max(dog_weight[i] for i in query.indices) == pytest.approx(1.375)  # the stemmed "dog"


def test_stopword_only_texts_encode_empty(enc: Bm25Encoder) -> None:
    assert enc.encode_query("the of and") == SparseVec(indices=[], values=[])
    assert enc.encode_documents(["", "the"], avg_len=10) == [SparseVec(indices=[], values=[])] * 2


def test_parameters_and_validation() -> None:
    flat = Bm25Encoder(b=0.0)
    (vec,) = flat.encode_documents([TEXT], avg_len=1000)  # b = 0 ignores length: 1.0 and 1.375
    assert sorted(vec.values) == pytest.approx([1.0] * 5 + [1.375], rel=1e-6)
    with pytest.raises(ValueError, match="avg_len"):
        flat.encode_documents([TEXT], avg_len=0)


def test_many_avg_lens_stay_correct(enc: Bm25Encoder) -> None:
    # More distinct avg_len values than the model cache holds: results still follow the formula.
    for avg_len in range(1, 30):
        (vec,) = enc.encode_documents(["kiwi"], avg_len=avg_len)
        norm = 1 - 0.75 + 0.75 * 1 / avg_len
        assert vec.values == pytest.approx([2.2 / (1 + 1.2 * norm)], rel=1e-6)


def test_is_a_sparse_encoder() -> None:
    encoder: SparseEncoder = Bm25Encoder()
    assert encoder.lengths(["kiwi"]) == [1]
