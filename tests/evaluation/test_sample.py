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


def _relevant_in(sample: BeirDataset) -> set[str]:
    return {d for docs in sample.qrels.values() for d, grade in docs.items() if grade > 0 and d in sample.corpus}


def test_default_sample_is_unchanged() -> None:
    # Pinned from the implementation before max_relevant_share existed: the default draws must not move.
    few = sample_dataset(_dataset(30, {"q1": [1, 2], "q2": [3]}), 8, seed=4)
    assert sorted(few.corpus, key=lambda d: int(d[1:])) == ["d1", "d2", "d3", "d6", "d12", "d16", "d18", "d21"]
    assert sorted(few.queries) == ["q1", "q2"]
    many = sample_dataset(_dataset(60, {f"q{i}": [2 * i, 2 * i + 1] for i in range(10)}), 10, seed=2)
    assert sorted(many.corpus, key=lambda d: int(d[1:])) == [f"d{i}" for i in (6, 7, 8, 9, 10, 11, 12, 18, 19, 47)]
    assert sorted(many.queries) == ["q3", "q4", "q5", "q9"]


@pytest.mark.parametrize(("share", "budget"), [(0.2, 10), (0.5, 25), (0.29, 14), (1.0, 50)])
def test_max_relevant_share_caps_the_relevant_documents(share: float, budget: int) -> None:
    # 30 queries with 2 relevant documents each (60 relevant) in a 300-document corpus, sample of 50.
    data = _dataset(300, {f"q{i}": [2 * i, 2 * i + 1] for i in range(30)})
    sample = sample_dataset(data, 50, seed=7, max_relevant_share=share)
    assert len(sample.corpus) == 50
    relevant = _relevant_in(sample)
    assert 0 < len(relevant) <= budget
    assert len(sample.queries) == len(relevant) // 2  # whole queries only
    for docs in sample.qrels.values():
        assert set(docs) <= set(sample.corpus)
    distractors = set(sample.corpus) - relevant
    assert all(int(d[1:]) >= 60 for d in distractors)  # distractors are judged relevant to no query


def test_max_relevant_share_applies_when_all_relevant_documents_would_fit() -> None:
    # 4 relevant documents fit in a sample of 10, but a share of 0.2 leaves room for 2: one query.
    data = _dataset(40, {"q1": [1, 2], "q2": [3, 4]})
    sample = sample_dataset(data, 10, seed=0, max_relevant_share=0.2)
    assert len(sample.corpus) == 10 and len(sample.queries) == 1
    assert len(_relevant_in(sample)) == 2
    # A sample as large as the corpus is still held to the share.
    whole = sample_dataset(data, 100, seed=0, max_relevant_share=0.1)
    assert len(whole.corpus) == 40 and len(_relevant_in(whole)) <= 4


def test_max_relevant_share_is_seeded() -> None:
    data = _dataset(300, {f"q{i}": [2 * i, 2 * i + 1] for i in range(30)})
    first = sample_dataset(data, 50, seed=3, max_relevant_share=0.3)
    assert sample_dataset(data, 50, seed=3, max_relevant_share=0.3) == first
    assert sample_dataset(data, 50, seed=4, max_relevant_share=0.3).corpus.keys() != first.corpus.keys()


def test_distractors_fall_back_to_documents_of_dropped_queries() -> None:
    # Every document is relevant to some query: the sample is still exactly n_docs.
    data = _dataset(20, {f"q{i}": [2 * i, 2 * i + 1] for i in range(10)})
    sample = sample_dataset(data, 10, seed=1, max_relevant_share=0.4)
    assert len(sample.corpus) == 10
    assert len(_relevant_in(sample)) <= 4


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5, float("nan")])
def test_max_relevant_share_out_of_range_is_an_error(share: float) -> None:
    with pytest.raises(InvalidRequestError, match="max-relevant-share"):
        sample_dataset(_dataset(10, {"q": [1]}), 5, seed=0, max_relevant_share=share)
