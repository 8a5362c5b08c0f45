"""Seeded document samples of a BEIR dataset, for evals too slow to run on the whole corpus (synthesis on CPU)."""

from __future__ import annotations

import random

from evaluation.beir import BeirDataset
from kernel.errors import InvalidRequestError

#: When a split judges more documents relevant than the sample holds, this share of the sample
#: goes to the relevant documents of a random subset of queries; the rest are random distractors.
RELEVANT_SHARE = 0.8


def sample_dataset(dataset: BeirDataset, n_docs: int, *, seed: int) -> BeirDataset:
    """All documents judged relevant in the split plus random others, up to ``n_docs`` documents.

    If the split judges more than ``n_docs`` documents relevant, queries are drawn at random
    (seeded) and kept while their relevant documents fit in ``RELEVANT_SHARE`` of the sample; the
    queries dropped are those whose relevant documents are not in it. The same dataset, size and
    seed always give the same sample.
    """
    if n_docs < 1:
        raise InvalidRequestError("--sample-docs must be at least 1")
    if n_docs >= len(dataset.corpus):
        return dataset
    rng = random.Random(seed)
    relevant = {
        qid: {d for d, s in docs.items() if s > 0 and d in dataset.corpus} for qid, docs in dataset.qrels.items()
    }
    every_relevant = set().union(*relevant.values()) if relevant else set()
    if len(every_relevant) <= n_docs:
        queries = sorted(relevant)
        chosen = set(every_relevant)
    else:
        budget = int(n_docs * RELEVANT_SHARE)
        order = sorted(relevant)
        rng.shuffle(order)
        queries, chosen = [], set()
        for qid in order:
            if relevant[qid] and len(chosen | relevant[qid]) <= budget:
                chosen |= relevant[qid]
                queries.append(qid)
    others = sorted(set(dataset.corpus) - chosen)
    chosen |= set(rng.sample(others, min(n_docs - len(chosen), len(others))))
    kept = set(queries)
    return BeirDataset(
        corpus={doc_id: doc for doc_id, doc in dataset.corpus.items() if doc_id in chosen},
        queries={qid: text for qid, text in dataset.queries.items() if qid in kept},
        qrels={qid: dict(docs) for qid, docs in dataset.qrels.items() if qid in kept},
    )
