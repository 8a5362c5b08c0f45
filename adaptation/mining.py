"""Triples for training: each query with the passage that answers it and a mined hard negative.

The base model's hybrid search (RRF, base space, chunks only) ranks the collection for the query.
The positive is the best-ranked relevant chunk (the query's own chunk, or the best chunk of a relevant
document; one of its chunks when none ranks). The hard negative is drawn from the hits
below the first two places that belong to no relevant document: judgements are incomplete, and the
very top non-relevant hits are the likeliest unjudged answers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from adaptation.pairs import Passage, TrainingQuery, relevant_sources
from adaptation.train import Triple
from kernel.adapt_settings import AdaptSettings
from kernel.models import Diversity, Fusion, SearchMode
from kernel.payload import DENSE_VECTOR
from retrieval.search import Searcher

#: Places at the top of the ranking never used as negatives.
SKIP_TOP = 2


def rank_base(searcher: Searcher, collection: str, text: str, depth: int) -> list[str]:
    """Chunk ids of the base model's hybrid ranking (the production candidates before adaptation)."""
    result = searcher.search(
        text,
        collection=collection,
        k=depth,
        mode=SearchMode.HYBRID,
        synthetic=False,
        diversity=Diversity.NONE,
        space=DENSE_VECTOR,
        fusion=Fusion.RRF,
    )
    return [hit.id for hit in result.hits]


def mine_triples(
    queries: Sequence[TrainingQuery],
    passages: Mapping[str, Passage],
    *,
    ranking: Callable[[str], list[str]],
    params: AdaptSettings,
    on_query: Callable[[int], None] | None = None,
) -> list[Triple]:
    """One triple per query (``ranking(text)``: chunk ids best first), negatives only when asked for."""
    rng = random.Random(params.seed)
    by_source = by_document(passages)
    triples = []
    for done, query in enumerate(queries, start=1):
        ranked = ranking(query.text) if (params.hard_negatives or query.sources) else []
        positive, negatives = candidates(query, ranked, passages, by_source)
        if positive is not None:
            negative = passages[rng.choice(negatives)].text if params.hard_negatives and negatives else None
            triples.append(Triple(query=query.text, positive=positive.text, negative=negative))
        if on_query is not None:
            on_query(done)
    return triples


def by_document(passages: Mapping[str, Passage]) -> dict[str, list[Passage]]:
    """Each source's passages, in the order of ``passages``."""
    by_source: dict[str, list[Passage]] = {}
    for passage in passages.values():
        by_source.setdefault(passage.source, []).append(passage)
    return by_source


def candidates(
    query: TrainingQuery,
    ranked: Sequence[str],
    passages: Mapping[str, Passage],
    by_source: Mapping[str, list[Passage]],
) -> tuple[Passage | None, list[str]]:
    """A query's positive passage and the ids its hard negative may be drawn from (``ranked``: best first)."""
    relevant = relevant_sources(query, passages)
    negatives = [pid for pid in ranked[SKIP_TOP:] if pid in passages and passages[pid].source not in relevant]
    return _positive(query, ranked, passages, by_source, relevant), negatives


def _positive(
    query: TrainingQuery,
    ranked: Sequence[str],
    passages: Mapping[str, Passage],
    by_source: Mapping[str, list[Passage]],
    relevant: set[str],
) -> Passage | None:
    if query.chunks:
        chunk = min(query.chunks)
        for pid in ranked:
            if pid in query.chunks:
                chunk = pid
                break
        return passages.get(chunk)
    for pid in ranked:
        if pid in passages and passages[pid].source in relevant:
            return passages[pid]
    firsts = [by_source[s][0] for s in sorted(relevant) if by_source.get(s)]
    return firsts[0] if firsts else None
