"""Seeded document samples of a BEIR dataset."""

from __future__ import annotations

import pytest

from evaluation.beir import BeirDataset, BeirDoc
from evaluation.sample import sample_dataset
from kernel.errors import InvalidRequestError


def _dataset(n_docs: int, judged: dict[str, list[int]]) -> BeirDataset:
    corpus = {f"d{i}": BeirDoc(title=f"t{i}", text=f"text {i}") for i in range(n_docs)}
    qrels = {q: {f"d{i}": 1 for i in docs} for q, docs in judged.items()}
    return BeirDataset(corpus=corpus, queries={q: f"query {q}" for q in judged}, qrels=qrels)


def test_all_relevant_documents_plus_random_others() -> None:
    data = _dataset(100, {"q1": [1, 2], "q2": [3]})
    sample = sample_dataset(data, 10, seed=5)
    assert len(sample.corpus) == 10
    assert {"d1", "d2", "d3"} <= set(sample.corpus)
    assert sample.queries == data.queries and sample.qrels == data.qrels
    assert sample_dataset(data, 10, seed=5).corpus.keys() == sample.corpus.keys()
    assert sample_dataset(data, 10, seed=6).corpus.keys() != sample.corpus.keys()


def test_too_many_relevant_documents_keeps_whole_queries_only() -> None:
    judged = {f"q{i}": [2 * i, 2 * i + 1] for i in range(20)}  # 40 relevant documents
    sample = sample_dataset(_dataset(200, judged), 20, seed=1)
    assert len(sample.corpus) == 20
    assert 0 < len(sample.queries) <= 8  # 80% of 20 documents = 16 relevant = 8 queries
    for docs in sample.qrels.values():
        assert set(docs) <= set(sample.corpus)  # every kept query keeps all its relevant documents


def test_sample_larger_than_corpus_is_the_corpus_and_zero_is_an_error() -> None:
    data = _dataset(5, {"q": [1]})
    assert sample_dataset(data, 50, seed=0) is data
    with pytest.raises(InvalidRequestError):
        sample_dataset(data, 0, seed=0)
