"""Seeded document samples of a BEIR dataset, for evals too slow to run on the whole corpus (synthesis on CPU)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from evaluation.beir import BeirDataset
from kernel.errors import InvalidRequestError

#: When a split judges more documents relevant than the sample holds, this share of the sample
#: goes to the relevant documents of a random subset of queries; the rest are random distractors.
RELEVANT_SHARE = 0.8


def _whole_queries(relevant: Mapping[str, set[str]], *, budget: int, rng: random.Random) -> tuple[list[str], set[str]]:
    # Queries in seeded random order, each kept only if all its relevant documents still fit: a query
    # missing some of its relevant documents would score against documents the index cannot return.
    order = sorted(relevant)
    rng.shuffle(order)
    queries: list[str] = []
    chosen: set[str] = set()
    for qid in order:
        if relevant[qid] and len(chosen | relevant[qid]) <= budget:
            chosen |= relevant[qid]
            queries.append(qid)
    return queries, chosen


def sample_dataset(
    dataset: BeirDataset, n_docs: int, *, seed: int, max_relevant_share: float | None = None
) -> BeirDataset:
    """A seeded sample of ``n_docs`` documents: relevant documents of whole queries plus random distractors.

    By default the sample holds every document judged relevant in the split plus random others. If
    the split judges more than ``n_docs`` documents relevant, queries are drawn at random (seeded) and
    kept while their relevant documents fit in ``RELEVANT_SHARE`` of the sample; the queries dropped
    are those whose relevant documents are not in it.

    With ``max_relevant_share`` the relevant documents of the kept queries are at most
    ``floor(n_docs * max_relevant_share)`` of the sample whatever the split judges, so that a sample
    made mostly of answers cannot saturate the metrics; the rest are distractors judged relevant to no
    query (documents relevant only to dropped queries make up the count if those run out). Then a
    sample as large as the corpus is still cut to the share. The same dataset, size, seed and share
    always give the same sample.

    Args:
        dataset: The split to sample.
        n_docs: Documents in the sample (the whole corpus if it holds fewer).
        seed: Seed of every random choice.
        max_relevant_share: Largest share of the sample, in (0, 1], given to relevant documents.

    Returns:
        The sampled corpus with the queries (and their judgments) whose relevant documents it holds.

    Raises:
        InvalidRequestError: ``n_docs`` < 1 or ``max_relevant_share`` outside (0, 1].
    """
    if n_docs < 1:
        raise InvalidRequestError("--sample-docs must be at least 1")
    if max_relevant_share is not None and not 0.0 < max_relevant_share <= 1.0:
        raise InvalidRequestError(f"--max-relevant-share must be in (0, 1], got {max_relevant_share}")
    if max_relevant_share is None and n_docs >= len(dataset.corpus):
        return dataset
    n_docs = min(n_docs, len(dataset.corpus))
    rng = random.Random(seed)
    relevant = {
        qid: {d for d, s in docs.items() if s > 0 and d in dataset.corpus} for qid, docs in dataset.qrels.items()
    }
    every_relevant: set[str] = set().union(*relevant.values()) if relevant else set()
    if max_relevant_share is not None:
        # round() first so that e.g. 100 * 0.29 = 28.999999999999996 floors to 29, not 28.
        budget = math.floor(round(n_docs * max_relevant_share, 9))
        queries, chosen = _whole_queries(relevant, budget=budget, rng=rng)
        pools = [sorted(set(dataset.corpus) - every_relevant), sorted(every_relevant - chosen)]
    else:
        if len(every_relevant) <= n_docs:
            queries, chosen = sorted(relevant), set(every_relevant)
        else:
            queries, chosen = _whole_queries(relevant, budget=int(n_docs * RELEVANT_SHARE), rng=rng)
        pools = [sorted(set(dataset.corpus) - chosen)]
    for pool in pools:
        chosen |= set(rng.sample(pool, min(n_docs - len(chosen), len(pool))))
    kept = set(queries)
    return BeirDataset(
        corpus={doc_id: doc for doc_id, doc in dataset.corpus.items() if doc_id in chosen},
        queries={qid: text for qid, text in dataset.queries.items() if qid in kept},
        qrels={qid: dict(docs) for qid, docs in dataset.qrels.items() if qid in kept},
    )
