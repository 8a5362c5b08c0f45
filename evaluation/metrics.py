"""Standard IR metrics (nDCG, recall, MRR at a cutoff) as BEIR and pytrec_eval define them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from kernel.errors import InvalidRequestError


class EvalReport(BaseModel):
    """Mean metrics over the judged queries of one run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ndcg_at_10: float = Field(ge=0.0, le=1.0, description="Mean nDCG@10 (graded gains).")
    recall_at_10: float = Field(ge=0.0, le=1.0, description="Mean recall@10.")
    recall_at_100: float = Field(ge=0.0, le=1.0, description="Mean recall@100.")
    mrr_at_10: float = Field(ge=0.0, le=1.0, description="Mean MRR@10 (first relevant hit).")
    n_queries: int = Field(ge=0, description="Queries averaged: those with at least one relevant judgment.")

    def as_json(self, mode: str) -> dict[str, float | int | str]:
        """The report keyed as BEIR prints it, tagged with the search mode that produced the run.

        Args:
            mode: Name of the retrieval mode (e.g. ``hybrid``) the run came from.

        Returns:
            A JSON-ready dict with the keys ``ndcg@10``, ``recall@10``, ``recall@100``, ``mrr@10``,
            ``n_queries`` and ``mode``.
        """
        return {
            "ndcg@10": self.ndcg_at_10,
            "recall@10": self.recall_at_10,
            "recall@100": self.recall_at_100,
            "mrr@10": self.mrr_at_10,
            "n_queries": self.n_queries,
            "mode": mode,
        }


def _top_k(ranked: Sequence[str], k: int) -> list[str]:
    # A document retrieved twice (e.g. through two chunks) is one result; later copies must neither
    # earn gain again nor push other documents out of the cutoff.
    if k < 1:
        raise InvalidRequestError(f"metric cutoff k must be >= 1, got {k}")
    seen: set[str] = set()
    top: list[str] = []
    for doc_id in ranked:
        if doc_id in seen:
            continue
        seen.add(doc_id)
        top.append(doc_id)
        if len(top) == k:
            break
    return top


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain at ``k``, gain = relevance grade, discount log2(rank + 1).

    Args:
        ranked: Document ids, best first; repeats count once, at their first position.
        relevant: Judged grade per document id; grades <= 0 earn no gain.
        k: Cutoff, >= 1.

    Returns:
        DCG@k divided by the DCG@k of the ideal ordering of the grades; 0.0 when nothing is relevant.
    """
    top = _top_k(ranked, k)
    ideal = sorted((grade for grade in relevant.values() if grade > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    dcg = sum(max(relevant.get(doc_id, 0), 0) / math.log2(rank + 1) for rank, doc_id in enumerate(top, 1))
    idcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal, 1))
    return dcg / idcg


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Fraction of the relevant documents (grade > 0) found in the top ``k``.

    Args:
        ranked: Document ids, best first; repeats count once.
        relevant: Judged grade per document id.
        k: Cutoff, >= 1.

    Returns:
        Recall in [0, 1]; 0.0 when nothing is relevant.
    """
    top = _top_k(ranked, k)
    wanted = {doc_id for doc_id, grade in relevant.items() if grade > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(top)) / len(wanted)


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document (grade > 0) within the top ``k``.

    Args:
        ranked: Document ids, best first; repeats count once.
        relevant: Judged grade per document id.
        k: Cutoff, >= 1.

    Returns:
        1 / rank of the first relevant document, or 0.0 if none is in the top ``k``.
    """
    for rank, doc_id in enumerate(_top_k(ranked, k), 1):
        if relevant.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


def evaluate(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> EvalReport:
    """Average the metrics over every query in ``qrels`` that has at least one relevant document.

    A judged query missing from ``run`` scores 0 on every metric (a silent retrieval failure must lower
    the score, not shrink the denominator); queries in ``run`` without judgments are ignored.

    Args:
        run: Ranked document ids per query id, best first.
        qrels: Relevance grade per document id, per query id.

    Returns:
        The mean metrics and the number of queries averaged.

    Raises:
        InvalidRequestError: ``qrels`` holds no query with a relevant document.
    """
    judged = {qid: rels for qid, rels in qrels.items() if any(grade > 0 for grade in rels.values())}
    if not judged:
        raise InvalidRequestError("qrels hold no query with a relevant (grade > 0) judgment")
    ndcg10: list[float] = []
    recall10: list[float] = []
    recall100: list[float] = []
    mrr10: list[float] = []
    for qid, rels in judged.items():
        ranked = run.get(qid, ())
        ndcg10.append(ndcg_at_k(ranked, rels, 10))
        recall10.append(recall_at_k(ranked, rels, 10))
        recall100.append(recall_at_k(ranked, rels, 100))
        mrr10.append(mrr_at_k(ranked, rels, 10))
    n = len(judged)
    return EvalReport(
        ndcg_at_10=math.fsum(ndcg10) / n,
        recall_at_10=math.fsum(recall10) / n,
        recall_at_100=math.fsum(recall100) / n,
        mrr_at_10=math.fsum(mrr10) / n,
        n_queries=n,
    )
