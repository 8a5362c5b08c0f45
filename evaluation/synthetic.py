"""Raw vs synthetic re-ranking on the production path, compared per query with paired statistics.

Every query's raw candidates and their synthetic evidence are read once
(:meth:`Searcher.search_with_evidence`); each variant (a lambda, an alpha, a set of item kinds)
is then the pure :func:`retrieval.search.rerank_hits` over them, cut to the production ``k``, so
a grid of variants costs no further searches and every variant sees exactly the same candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from evaluation.beir import BeirDataset
from evaluation.paired import PairedComparison, paired_comparison, per_query_ndcg
from kernel.models import Hit, PointKind, SearchMode
from retrieval.evidence import Evidence
from retrieval.rerank import RerankParams, rerank_hits
from retrieval.search import Searcher


@dataclass(frozen=True, slots=True)
class Collected:
    """One mode's raw candidates and evidence for every evaluated query."""

    mode: SearchMode
    k: int
    depth: int
    queries: dict[str, tuple[list[Hit], Evidence]]


def collect(
    dataset: BeirDataset,
    searcher: Searcher,
    *,
    collection: str,
    mode: SearchMode,
    k: int,
    depth: int,
    fetch: int = 0,
) -> Collected:
    """Raw chunk hits (``max(fetch, depth, k)`` of them) and the evidence of all of them, for every query.

    Args:
        k: Hits a production search returns (the paired comparison's cutoff).
        depth: Raw candidates re-ranking may re-order (the setting ``synth.rerank_depth``).
        fetch: Hits to fetch beyond that, for metrics deeper than ``k`` (recall@100).
    """
    queries: dict[str, tuple[list[Hit], Evidence]] = {}
    for query_id, text in dataset.queries.items():
        queries[query_id] = searcher.search_with_evidence(
            text, collection=collection, mode=mode, depth=max(fetch, depth, k)
        )
    return Collected(mode=mode, k=k, depth=depth, queries=queries)


def top_chunks(collected: Iterable[Collected], n: int) -> set[str]:
    """Ids of the chunks in the raw top ``n`` of any collected query: the only ones re-ranking can move."""
    return {hit.id for c in collected for hits, _ in c.queries.values() for hit in hits[:n]}


def documents(hits: Sequence[Hit]) -> list[str]:
    """Chunk hits collapsed to their documents (BEIR ids are the sources), best first."""
    return list(dict.fromkeys(hit.source for hit in hits))


def run_variant(collected: Collected, params: RerankParams | None, *, limit: int | None = None) -> dict[str, list[str]]:
    """Each query's ranked documents under ``params`` (None = raw) from its top ``limit`` chunks (default: ``k``)."""
    cut = collected.k if limit is None else limit
    run: dict[str, list[str]] = {}
    for query_id, (hits, evidence) in collected.queries.items():
        if params is None or not params.active:
            ranked = hits[:cut]
        else:
            at_depth = params.model_copy(update={"depth": collected.depth})
            ranked = rerank_hits(hits, evidence, at_depth, limit=cut)
        run[query_id] = documents(ranked)
    return run


def compare(
    collected: Collected,
    qrels: Mapping[str, Mapping[str, int]],
    params: RerankParams,
    *,
    query_ids: Sequence[str] | None = None,
    resamples: int = 10_000,
) -> PairedComparison:
    """nDCG@10 of ``params`` vs raw, paired per query (on ``query_ids``, default all judged ones)."""
    base = per_query_ndcg(run_variant(collected, None), qrels)
    other = per_query_ndcg(run_variant(collected, params), qrels)
    if query_ids is not None:
        keep = set(query_ids)
        base = {q: v for q, v in base.items() if q in keep}
        other = {q: v for q, v in other.items() if q in keep}
    return paired_comparison(base, other, resamples=resamples)


def kinds_present(collected: Iterable[Collected]) -> list[PointKind]:
    """Item kinds that gave evidence to some candidate (what a per-kind report can measure)."""
    found: set[PointKind] = set()
    for c in collected:
        for _, evidence in c.queries.values():
            found |= {kind for kind, values in evidence.items.items() if values}
    return sorted(found, key=lambda k: k.value)
