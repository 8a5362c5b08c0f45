"""Paired comparison of two runs over the same queries: per-query nDCG, bootstrap interval, wins and losses."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evaluation.metrics import ndcg_at_k

#: Per-query differences this close count as ties (float noise from equal rankings scored twice).
TIE_TOLERANCE = 1e-12
#: Bootstrap index draws per block: bounds memory at ~8 MB whatever resamples x queries is.
_BLOCK_DRAWS = 1_000_000


class PairedComparison(BaseModel):
    """How a run ("other") differs from a baseline on the same queries, query by query."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n: int = Field(ge=1, description="Queries paired.")
    base_mean: float = Field(description="Mean score of the baseline.")
    other_mean: float = Field(description="Mean score of the other run.")
    delta: float = Field(description="Mean of other - base over the paired queries.")
    delta_ci: tuple[float, float] = Field(description="Paired bootstrap percentile interval of the mean difference.")
    wins: int = Field(ge=0, description="Queries where other beats base.")
    ties: int = Field(ge=0, description="Queries where they are equal (within TIE_TOLERANCE).")
    losses: int = Field(ge=0, description="Queries where base beats other.")

    def as_json(self) -> dict[str, float | int | list[float]]:
        """The comparison as a JSON-ready dict.

        Returns:
            A dict with the keys ``delta``, ``delta_ci`` (``[low, high]``), ``wins``, ``ties``,
            ``losses`` and ``n``.
        """
        return {
            "delta": self.delta,
            "delta_ci": [self.delta_ci[0], self.delta_ci[1]],
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "n": self.n,
        }


def per_query_ndcg(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], k: int = 10
) -> dict[str, float]:
    """nDCG@k of every judged query, chosen exactly as :func:`evaluation.metrics.evaluate` chooses them.

    Args:
        run: Ranked document ids per query id, best first.
        qrels: Relevance grade per document id, per query id.
        k: Cutoff, >= 1.

    Returns:
        nDCG@k per query id with at least one relevant (grade > 0) judgment; a judged query missing
        from ``run`` scores 0. With ``k=10`` the mean equals ``evaluate(run, qrels).ndcg_at_10``.
    """
    return {
        qid: ndcg_at_k(run.get(qid, ()), rels, k)
        for qid, rels in qrels.items()
        if any(grade > 0 for grade in rels.values())
    }


def _bootstrap_means(diffs: np.ndarray, *, resamples: int, rng: np.random.Generator) -> np.ndarray:
    # Resample queries with replacement, the same draw for both runs (the pairing is what makes the
    # interval narrow: per-query difficulty cancels out). Blocks keep the index matrix small.
    n = diffs.shape[0]
    rows = max(1, _BLOCK_DRAWS // n)
    means: list[np.ndarray] = []
    for start in range(0, resamples, rows):
        idx = rng.integers(0, n, size=(min(rows, resamples - start), n))
        means.append(diffs[idx].mean(axis=1))
    return np.concatenate(means)


def paired_comparison(
    base: Mapping[str, float],
    other: Mapping[str, float],
    *,
    resamples: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedComparison:
    """Compare two per-query scores (e.g. from :func:`per_query_ndcg`) paired by query id.

    Args:
        base: Score per query id of the baseline run.
        other: Score per query id of the run compared with it; same query ids as ``base``.
        resamples: Bootstrap resamples of the queries.
        seed: Seed of the bootstrap; the same inputs and seed give the same interval.
        confidence: Coverage of the percentile interval, in (0, 1).

    Returns:
        The means, the mean difference (other - base) with its bootstrap percentile interval (exactly
        ``(delta, delta)`` when every difference is the same, so ``(0.0, 0.0)`` for equal runs), and
        per-query wins, ties and losses.

    Raises:
        ValueError: The query ids differ (the message names some of each side's extras), there
            are none, ``resamples`` < 1 or ``confidence`` is outside (0, 1).
    """
    if base.keys() != other.keys():
        only_base = sorted(set(base) - set(other))
        only_other = sorted(set(other) - set(base))
        raise ValueError(
            f"paired comparison needs the same queries: {len(only_base)} only in base {only_base[:5]}, "
            f"{len(only_other)} only in other {only_other[:5]}"
        )
    if not base:
        raise ValueError("paired comparison needs at least one query")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    # Sorted ids: the bootstrap must not depend on the order the mappings were built in.
    qids = sorted(base)
    base_scores = [base[qid] for qid in qids]
    other_scores = [other[qid] for qid in qids]
    diffs = np.array(other_scores, dtype=np.float64) - np.array(base_scores, dtype=np.float64)
    n = len(qids)
    ties = int(np.count_nonzero(np.abs(diffs) <= TIE_TOLERANCE))
    wins = int(np.count_nonzero(diffs > TIE_TOLERANCE))
    delta = math.fsum(diffs.tolist()) / n
    if np.all(diffs == diffs[0]):
        # Every resample has the same mean; skip the float noise of averaging it 10,000 times.
        ci = (delta, delta)
    else:
        means = _bootstrap_means(diffs, resamples=resamples, rng=np.random.default_rng(seed))
        tail = (1.0 - confidence) / 2.0
        low, high = np.quantile(means, [tail, 1.0 - tail])
        ci = (float(low), float(high))
    return PairedComparison(
        n=n,
        # fsum / n, as evaluate() averages, so base_mean equals the EvalReport figure exactly.
        base_mean=math.fsum(base_scores) / n,
        other_mean=math.fsum(other_scores) / n,
        delta=delta,
        delta_ci=ci,
        wins=wins,
        ties=ties,
        losses=n - wins - ties,
    )
