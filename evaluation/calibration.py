"""Fit a teacher profile's strengths by paired comparison: choose on one half of the queries, check on the other.

For each method (item re-ranking with lambda, document expansion with alpha) every strength of a
grid is compared with raw search in every mode on the *fit* half of the queries. A strength is
admissible when, in every mode, the lower end of the 95% interval of delta nDCG@10 is at least
``NON_INFERIORITY``; the admissible one with the best mean delta over modes is chosen, and both
chosen strengths together are kept only if that beats the better one alone. The choice is then
measured on the *held-out* half: if some mode falls below ``NON_INFERIORITY`` there, every
strength is 0. Modes whose held-out delta is above 0 get re-ranking by default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from evaluation.paired import PairedComparison
from evaluation.synthetic import Collected, compare
from kernel.models import PointKind, SearchMode
from knowledge.profile import CHUNK_ITEM_KINDS, Calibration, TeacherProfile
from retrieval.rerank import RerankParams

#: Strengths tried (raw places full evidence is worth; at most ceil(s) - 1 places of movement).
GRID: tuple[float, ...] = (1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
#: The largest loss of nDCG@10 the interval may allow: re-ranking must be non-inferior to raw.
NON_INFERIORITY = -0.005
#: Item kinds whose words make the expansion text (see ingest.synthesis.storage).
EXPANSION_KINDS: tuple[PointKind, ...] = (PointKind.QUESTION, PointKind.KEYWORDS, PointKind.QUERY)


class Trial(BaseModel):
    """One variant compared with raw in every mode."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str
    rerank_lambda: float
    expansion_alpha: float
    kinds: tuple[PointKind, ...]
    by_mode: dict[str, PairedComparison]

    @property
    def mean_delta(self) -> float:
        """Delta nDCG@10 averaged over modes."""
        return sum(c.delta for c in self.by_mode.values()) / max(len(self.by_mode), 1)

    @property
    def admissible(self) -> bool:
        """Non-inferior to raw in every mode."""
        return all(c.delta_ci[0] >= NON_INFERIORITY for c in self.by_mode.values())

    def params(self, depth: int) -> RerankParams:
        """The trial's re-ranking parameters."""
        return RerankParams(
            rerank_lambda=self.rerank_lambda, expansion_alpha=self.expansion_alpha, depth=depth, kinds=self.kinds
        )

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: method, strengths, per-mode comparison."""
        return {
            "method": self.method,
            "rerank_lambda": self.rerank_lambda,
            "expansion_alpha": self.expansion_alpha,
            "kinds": [k.value for k in self.kinds],
            "mean_delta": self.mean_delta,
            "results": {mode: c.as_json() for mode, c in self.by_mode.items()},
        }


class CalibrationResult(BaseModel):
    """The grid on the fit half, the choice, its held-out check, per-kind effects and the profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fit_queries: int
    holdout_queries: int
    grid: list[Trial]
    chosen: Trial | None
    holdout: Trial | None
    by_kind: list[Trial]
    profile: TeacherProfile


def split_queries(query_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """(fit, held-out) halves by a hash of each id: stable across runs and samples."""
    fit: list[str] = []
    held: list[str] = []
    for qid in sorted(query_ids):
        (fit if hashlib.sha256(qid.encode()).digest()[0] % 2 == 0 else held).append(qid)
    return fit, held


def trial(
    collected: Sequence[Collected],
    qrels: Mapping[str, Mapping[str, int]],
    params: RerankParams,
    *,
    method: str,
    query_ids: Sequence[str],
) -> Trial:
    """Compare ``params`` with raw in every collected mode on ``query_ids``."""
    by_mode = {c.mode.value: compare(c, qrels, params, query_ids=query_ids) for c in collected}
    return Trial(
        method=method,
        rerank_lambda=params.rerank_lambda,
        expansion_alpha=params.expansion_alpha,
        kinds=params.kinds,
        by_mode=by_mode,
    )


def calibrate(
    collected: Sequence[Collected],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    teacher: str,
    dataset: str,
    depth: int,
    kinds: Sequence[PointKind] = CHUNK_ITEM_KINDS,
) -> CalibrationResult:
    """Fit lambda and alpha on half the queries, check on the other half, and build the profile."""
    judged = [q for q in collected[0].queries if any(g > 0 for g in qrels.get(q, {}).values())]
    fit, held = split_queries(judged)
    item_kinds = tuple(kinds)

    def run(lam: float, alpha: float, method: str, ids: Sequence[str], used: tuple[PointKind, ...]) -> Trial:
        params = RerankParams(rerank_lambda=lam, expansion_alpha=alpha, depth=depth, kinds=used)
        return trial(collected, qrels, params, method=method, query_ids=ids)

    grid = [run(s, 0.0, "rerank", fit, item_kinds) for s in GRID]
    grid += [run(0.0, s, "expansion", fit, item_kinds) for s in GRID]
    best = {m: _best([t for t in grid if t.method == m]) for m in ("rerank", "expansion")}
    chosen = max((t for t in best.values() if t is not None), key=lambda t: t.mean_delta, default=None)
    if best["rerank"] is not None and best["expansion"] is not None:
        both = run(best["rerank"].rerank_lambda, best["expansion"].expansion_alpha, "both", fit, item_kinds)
        grid.append(both)
        if both.admissible and chosen is not None and both.mean_delta > chosen.mean_delta:
            chosen = both
    holdout = run(chosen.rerank_lambda, chosen.expansion_alpha, chosen.method, held, item_kinds) if chosen else None
    # Each kind alone, at the chosen lambda (or the grid's middle when none was chosen), on the fit half.
    lam = chosen.rerank_lambda if chosen is not None and chosen.rerank_lambda > 0 else GRID[len(GRID) // 2]
    by_kind = [run(lam, 0.0, f"rerank:{kind.value}", fit, (kind,)) for kind in item_kinds]
    profile = _profile(teacher, chosen, holdout, dataset=dataset, queries=len(judged), kinds=item_kinds)
    return CalibrationResult(
        fit_queries=len(fit),
        holdout_queries=len(held),
        grid=grid,
        chosen=chosen,
        holdout=holdout,
        by_kind=by_kind,
        profile=profile,
    )


def _best(trials: Sequence[Trial]) -> Trial | None:
    """The admissible trial with the best mean delta, if it is above 0."""
    good = [t for t in trials if t.admissible and t.mean_delta > 0]
    return max(good, key=lambda t: t.mean_delta, default=None)


def _profile(
    teacher: str,
    chosen: Trial | None,
    holdout: Trial | None,
    *,
    dataset: str,
    queries: int,
    kinds: tuple[PointKind, ...],
) -> TeacherProfile:
    if chosen is None or holdout is None or not holdout.admissible:
        # Nothing helps (or the help did not hold up): no strengths, no chunk items generated.
        calibration = Calibration(dataset=dataset, queries=queries, chosen={})
        return TeacherProfile(teacher=teacher, item_kinds=[], calibration=calibration)
    used = list(kinds) if chosen.rerank_lambda > 0 else [k for k in kinds if k in EXPANSION_KINDS]
    modes = [SearchMode(mode) for mode, c in holdout.by_mode.items() if c.delta > 0]
    calibration = Calibration(
        dataset=dataset, queries=queries, chosen={"fit": chosen.as_json(), "holdout": holdout.as_json()}
    )
    if not modes:
        # No mode gains on the held-out half: no search would use the items, so none are generated.
        return TeacherProfile(teacher=teacher, item_kinds=[], calibration=calibration)
    return TeacherProfile(
        teacher=teacher,
        rerank_lambda=chosen.rerank_lambda,
        expansion_alpha=chosen.expansion_alpha,
        item_kinds=used,
        search_modes=modes,
        calibration=calibration,
    )
