"""Diversity methods against plain search on a BEIR dataset, paired per query.

Every method searches each query once, ``CHUNK_DEPTH`` hits deep, and is scored three ways: nDCG@10
over its hits collapsed to documents (as ``synthrag eval`` scores a mode: what diversity may cost),
document recall@5 and alpha-nDCG@5 over its top hits on the queries with several relevant documents
(what it must buy), and near-duplicate hits among the top ``answer_k`` (what an answer prompt holds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from evaluation.beir import BeirDataset
from evaluation.diversity import alpha_ndcg_at_k, doc_recall_at_k, multi_relevant, near_duplicate_count
from evaluation.metrics import EvalReport, evaluate
from evaluation.paired import PairedComparison, paired_comparison, per_query_ndcg
from evaluation.runner import CHUNK_DEPTH, collapse
from kernel.models import Diversity, SearchMode
from retrieval.search import Searcher

#: Hits that doc recall and alpha-nDCG count.
HIT_K = 5

#: The re-orderings ``eval --diversity`` compares, after plain search and MMR.
_REORDERINGS = (Diversity.PER_DOCUMENT, Diversity.NEAR_DUPLICATES, Diversity.COVERAGE, Diversity.AUTO)


@dataclass(frozen=True, slots=True)
class Method:
    """A search mode with a diversity re-ordering."""

    mode: SearchMode
    diversity: Diversity = Diversity.NONE

    @property
    def name(self) -> str:
        """``hybrid``, ``hybrid-mmr``, ``hybrid + per-document``, ..."""
        return self.mode.value if self.diversity is Diversity.NONE else f"{self.mode.value} + {self.diversity.value}"


@dataclass(frozen=True, slots=True)
class MethodRun:
    """One method's hits on every query: documents collapsed, documents of the top hits, near-duplicates."""

    ranked: dict[str, list[str]]
    hit_docs: dict[str, list[str]]
    near_duplicates: dict[str, int]


def methods_for(mode: SearchMode) -> list[Method]:
    """Plain ``mode`` (the baseline, first), MMR, and each diversity re-ordering of ``mode``."""
    others = [Method(SearchMode.HYBRID_MMR)] if mode is not SearchMode.HYBRID_MMR else []
    return [
        Method(mode),
        *others,
        *(Method(mode, method) for method in _REORDERINGS),
    ]


def run_method(
    dataset: BeirDataset,
    searcher: Searcher,
    *,
    collection: str,
    method: Method,
    answer_k: int,
    similarity: float,
    on_query: Callable[[], object] | None = None,
) -> MethodRun:
    """Search every query with ``method`` once and keep what the metrics read."""
    ranked: dict[str, list[str]] = {}
    hit_docs: dict[str, list[str]] = {}
    duplicates: dict[str, int] = {}
    for query_id, text in dataset.queries.items():
        result = searcher.search(
            text,
            collection=collection,
            k=CHUNK_DEPTH,
            mode=method.mode,
            synthetic=False,
            diversity=method.diversity,
            with_vectors=True,
        )
        ranked[query_id] = collapse(result.hits)
        hit_docs[query_id] = [h.source for h in result.hits[: max(HIT_K, answer_k)]]
        duplicates[query_id] = near_duplicate_count(result.hits[:answer_k], result.vectors, similarity=similarity)
        if on_query is not None:
            on_query()
    return MethodRun(ranked=ranked, hit_docs=hit_docs, near_duplicates=duplicates)


class MethodScores(BaseModel):
    """Per-query scores of one method; each measure on its own queries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    report: EvalReport
    ndcg: dict[str, float]  # nDCG@10, every judged query
    doc_recall: dict[str, float]  # doc recall@HIT_K, multi-relevant queries
    alpha_ndcg: dict[str, float]  # alpha-nDCG@HIT_K, multi-relevant queries
    alpha_ndcg_all: dict[str, float]  # alpha-nDCG@HIT_K, every judged query
    near_duplicates: dict[str, float]  # near-duplicate hits in the answer context, every judged query


def score_method(qrels: Mapping[str, Mapping[str, int]], run: MethodRun) -> MethodScores:
    """Score a method's run on the judged queries (a judged query it did not answer scores 0)."""
    judged = {qid: rels for qid, rels in qrels.items() if any(grade > 0 for grade in rels.values())}
    multi = multi_relevant(judged)
    hits = {qid: run.hit_docs.get(qid, []) for qid in judged}
    return MethodScores(
        report=evaluate(run.ranked, qrels),
        ndcg=per_query_ndcg(run.ranked, qrels),
        doc_recall={qid: doc_recall_at_k(hits[qid], judged[qid], HIT_K) for qid in multi},
        alpha_ndcg={qid: alpha_ndcg_at_k(hits[qid], judged[qid], HIT_K) for qid in multi},
        alpha_ndcg_all={qid: alpha_ndcg_at_k(hits[qid], rels, HIT_K) for qid, rels in judged.items()},
        near_duplicates={qid: float(run.near_duplicates.get(qid, 0)) for qid in judged},
    )


class MethodComparison(BaseModel):
    """One method against the baseline, measure by measure (None where no query has the measure)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str
    mode: SearchMode
    diversity: Diversity
    report: EvalReport
    ndcg: PairedComparison
    doc_recall: PairedComparison | None
    alpha_ndcg: PairedComparison | None
    alpha_ndcg_all: PairedComparison
    near_duplicates: PairedComparison


def _paired(base: dict[str, float], other: dict[str, float]) -> PairedComparison | None:
    return paired_comparison(base, other) if base else None


def compare_method(method: Method, base: MethodScores, other: MethodScores) -> MethodComparison:
    """``other`` (the scores of ``method``) against ``base``, paired per query with bootstrap intervals."""
    return MethodComparison(
        method=method.name,
        mode=method.mode,
        diversity=method.diversity,
        report=other.report,
        ndcg=paired_comparison(base.ndcg, other.ndcg),
        doc_recall=_paired(base.doc_recall, other.doc_recall),
        alpha_ndcg=_paired(base.alpha_ndcg, other.alpha_ndcg),
        alpha_ndcg_all=paired_comparison(base.alpha_ndcg_all, other.alpha_ndcg_all),
        near_duplicates=paired_comparison(base.near_duplicates, other.near_duplicates),
    )
