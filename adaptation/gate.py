"""The gate: an adapted space is used only if it beats the one searches use now on held-apart queries.

The baseline is the base space, or the active adapted space when an earlier adaptation switched to one
(a new model must not replace a better one). Both spaces search the whole collection on the production
path (the service's default mode, same k); each held-apart query scores nDCG@10 over documents in each,
and the paired bootstrap interval of the mean gain must lie above 0 at the configured confidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from adaptation.pairs import Passage, TrainingQuery, relevant_sources
from evaluation.metrics import ndcg_at_k
from evaluation.paired import paired_comparison
from kernel.models import Diversity, SearchMode
from kernel.payload import DENSE_VECTOR
from retrieval.search import Searcher

#: Chunks fetched per query so that ten distinct documents survive collapsing.
GATE_DEPTH = 30


class GateReport(BaseModel):
    """The held-apart comparison of base and adapted spaces and its verdict."""

    mode: str
    baseline: str = Field(description="The space compared with: the base one (dense) or the active adapted one.")
    queries: int
    base_ndcg: float = Field(description="Mean nDCG@10 of the baseline space on the held-apart queries.")
    adapted_ndcg: float
    delta: float
    delta_ci: tuple[float, float]
    confidence: float
    wins: int
    ties: int
    losses: int
    passed: bool
    reason: str


def document_ranking(searcher: Searcher, collection: str, text: str, *, mode: SearchMode, space: str) -> list[str]:
    """Sources of the documents a search in ``space`` returns, each at its first place."""
    result = searcher.search(
        text, collection=collection, k=GATE_DEPTH, mode=mode, space=space, synthetic=False, diversity=Diversity.NONE
    )
    ranked: list[str] = []
    for hit in result.hits:
        if hit.source not in ranked:
            ranked.append(hit.source)
    return ranked


def judge(
    searcher: Searcher,
    collection: str,
    held: Sequence[TrainingQuery],
    passages: Mapping[str, Passage],
    *,
    space: str,
    mode: SearchMode,
    confidence: float,
    baseline: str = DENSE_VECTOR,
) -> GateReport:
    """Compare ``space`` with ``baseline`` on ``held``; passed only when the interval is above 0."""
    base: dict[str, float] = {}
    adapted: dict[str, float] = {}
    for index, query in enumerate(held):
        relevant = {source: 1 for source in relevant_sources(query, passages)}
        for name, scores in ((baseline, base), (space, adapted)):
            ranked = document_ranking(searcher, collection, query.text, mode=mode, space=name)
            scores[str(index)] = ndcg_at_k(ranked, relevant, 10)
    if not held:
        return GateReport(
            mode=mode.value, baseline=baseline, queries=0, base_ndcg=0.0, adapted_ndcg=0.0, delta=0.0,
            delta_ci=(0.0, 0.0), confidence=confidence, wins=0, ties=0, losses=0, passed=False,
            reason="no held-apart queries to judge the adapted model on",
        )  # fmt: skip
    comparison = paired_comparison(base, adapted, confidence=confidence)
    low, high = comparison.delta_ci
    passed = low > 0
    if passed:
        reason = (
            f"adapted beats {_name(baseline)}: nDCG@10 {comparison.delta:+.4f} [{low:+.4f}, {high:+.4f}] "
            f"on {len(held)} queries"
        )
    else:
        reason = (
            f"adapted does not beat {_name(baseline)} with {confidence:.0%} confidence: nDCG@10 "
            f"{comparison.delta:+.4f} [{low:+.4f}, {high:+.4f}] on {len(held)} held-apart queries; the collection "
            f"keeps {_kept(baseline)}"
        )
    return GateReport(
        mode=mode.value,
        baseline=baseline,
        queries=len(held),
        base_ndcg=comparison.base_mean,
        adapted_ndcg=comparison.other_mean,
        delta=comparison.delta,
        delta_ci=(low, high),
        confidence=confidence,
        wins=comparison.wins,
        ties=comparison.ties,
        losses=comparison.losses,
        passed=passed,
        reason=reason,
    )


def _name(space: str) -> str:
    return "base" if space == DENSE_VECTOR else f"the active adapted space ({space})"


def _kept(space: str) -> str:
    return "the base model" if space == DENSE_VECTOR else _name(space)
