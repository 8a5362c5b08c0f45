"""What diversification must buy, per query: document recall and alpha-nDCG over hits, near-duplicate hits.

These metrics read a ranking of *hits* (chunks), each named by its document, repeats kept: unlike
:mod:`evaluation.metrics`, a document's second chunk takes a place in the top ``k`` (it is what an
answer prompt would hold). Relevance is binary here: a document with a grade > 0 is relevant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from kernel.errors import InvalidRequestError
from kernel.models import Hit
from retrieval.diversity import Vectors, repeats

#: The usual alpha of alpha-nDCG (Clarke et al., 2008): a document's second hit earns half of its first.
ALPHA = 0.5


def _cutoff(hit_docs: Sequence[str], k: int) -> Sequence[str]:
    if k < 1:
        raise InvalidRequestError(f"metric cutoff k must be >= 1, got {k}")
    return hit_docs[:k]


def _relevant(relevant: Mapping[str, int]) -> set[str]:
    return {doc_id for doc_id, grade in relevant.items() if grade > 0}


def doc_recall_at_k(hit_docs: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents among the distinct documents of the top ``k`` hits.

    Args:
        hit_docs: The document of each hit, best first; a document may repeat (several chunks).
        relevant: Judged grade per document id; grade > 0 is relevant.
        k: Hits that count, >= 1.

    Returns:
        |relevant found in the top k hits| / |relevant|, in [0, 1]; 0.0 when nothing is relevant.
    """
    wanted = _relevant(relevant)
    if not wanted:
        return 0.0
    return len(wanted.intersection(_cutoff(hit_docs, k))) / len(wanted)


def alpha_dcg_at_k(hit_docs: Sequence[str], relevant: Mapping[str, int], k: int, alpha: float = ALPHA) -> float:
    """alpha-DCG@k with every relevant document as one nugget (subtopic) that only its own hits cover.

    The hit at rank r (1-based) from document d earns ``J(d) * (1 - alpha) ** c`` where ``J(d)`` is 1
    for a relevant document (else 0) and ``c`` is the number of hits from d above rank r; the sum
    over r <= k is discounted by ``log2(r + 1)``. So a relevant document's first hit earns 1, its
    second ``1 - alpha``, its third ``(1 - alpha) ** 2``; a hit of an unjudged document earns 0.
    """
    if not 0.0 <= alpha <= 1.0:
        raise InvalidRequestError(f"alpha must be in [0, 1], got {alpha}")
    wanted = _relevant(relevant)
    seen: dict[str, int] = {}
    total = 0.0
    for rank, doc_id in enumerate(_cutoff(hit_docs, k), 1):
        if doc_id in wanted:
            total += (1.0 - alpha) ** seen.get(doc_id, 0) / math.log2(rank + 1)
        seen[doc_id] = seen.get(doc_id, 0) + 1
    return total


def ideal_alpha_dcg_at_k(n_relevant: int, k: int, alpha: float = ALPHA) -> float:
    """alpha-DCG@k of the ideal ranking, built greedily as is standard: each rank takes the largest gain left.

    Each hit covers one nugget (its document) and a relevant document may give any number of hits,
    so the greedy choice is exact here: the first ``n_relevant`` ranks earn 1 (one hit of each
    relevant document), the next ``n_relevant`` earn ``1 - alpha`` (a second hit of each), and so on.
    """
    if k < 1:
        raise InvalidRequestError(f"metric cutoff k must be >= 1, got {k}")
    if n_relevant < 1:
        return 0.0
    covered = [0] * n_relevant
    total = 0.0
    for rank in range(1, k + 1):
        best = min(range(n_relevant), key=covered.__getitem__)  # the nugget seen least: largest gain
        total += (1.0 - alpha) ** covered[best] / math.log2(rank + 1)
        covered[best] += 1
    return total


def alpha_ndcg_at_k(hit_docs: Sequence[str], relevant: Mapping[str, int], k: int, alpha: float = ALPHA) -> float:
    """alpha-nDCG@k: :func:`alpha_dcg_at_k` over :func:`ideal_alpha_dcg_at_k`, in [0, 1].

    Args:
        hit_docs: The document of each hit, best first; a document may repeat (several chunks).
        relevant: Judged grade per document id; grade > 0 is relevant (binary nuggets).
        k: Hits that count, >= 1.
        alpha: Share of a nugget's gain lost each time it is seen again, in [0, 1].

    Returns:
        The normalised score; 0.0 when nothing is relevant.
    """
    ideal = ideal_alpha_dcg_at_k(len(_relevant(relevant)), k, alpha)
    return alpha_dcg_at_k(hit_docs, relevant, k, alpha) / ideal if ideal else 0.0


def near_duplicate_count(hits: Sequence[Hit], vectors: Vectors, *, similarity: float) -> int:
    """Hits that repeat an earlier hit of the list: dense cosine >= ``similarity``, or the same document span.

    The test is :func:`retrieval.diversity.repeats` against every earlier hit (repeats of repeats count).
    """
    return sum(repeats(hit, hits[:rank], vectors, similarity=similarity) for rank, hit in enumerate(hits))


def multi_relevant(qrels: Mapping[str, Mapping[str, int]]) -> set[str]:
    """Query ids with more than one relevant (grade > 0) document: where diversity can pay."""
    return {qid for qid, rels in qrels.items() if len(_relevant(rels)) > 1}
