"""Calibration as pure selection over collected candidates: helpful evidence is chosen, harmful evidence gets 0."""

from __future__ import annotations

from evaluation.calibration import NON_INFERIORITY, calibrate, split_queries
from evaluation.synthetic import Collected, compare, run_variant, top_chunks
from kernel.models import Hit, PointKind, SearchMode
from knowledge.profile import CHUNK_ITEM_KINDS
from retrieval.evidence import Evidence
from retrieval.rerank import RerankParams

N_QUERIES = 80


def _hit(doc: str, rank: int) -> Hit:
    return Hit(id=f"{doc}-chunk", score=1.0 / (rank + 1), text=doc, document_id=doc, source=doc)


def _collected(helpful: bool) -> tuple[list[Collected], dict[str, dict[str, int]]]:
    """Per query: the relevant document at raw rank 2; evidence on it (helpful) or on rank 3 (harmful)."""
    qrels: dict[str, dict[str, int]] = {}
    by_mode = []
    for mode in SearchMode:
        queries: dict[str, tuple[list[Hit], Evidence]] = {}
        for q in range(N_QUERIES):
            qid = f"q{q}"
            docs = [f"{qid}-d{i}" for i in range(12)]
            qrels[qid] = {docs[2]: 1}
            target = docs[2] if helpful else docs[3]
            evidence = Evidence(items={PointKind.QUESTION: {f"{target}-chunk": 0.9}})
            queries[qid] = ([_hit(d, i) for i, d in enumerate(docs)], evidence)
        by_mode.append(Collected(mode=mode, k=10, depth=12, queries=queries))
    return by_mode, qrels


def test_helpful_evidence_is_chosen_and_checked_on_the_held_out_half() -> None:
    collected, qrels = _collected(helpful=True)
    result = calibrate(collected, qrels, teacher="t", dataset="synthetic", depth=12)
    assert result.fit_queries + result.holdout_queries == N_QUERIES
    assert result.chosen is not None and result.chosen.rerank_lambda > 0
    assert result.holdout is not None and result.holdout.admissible
    profile = result.profile
    assert profile.rerank_lambda == result.chosen.rerank_lambda and profile.uses_items
    assert set(profile.search_modes) == set(SearchMode)
    assert [t.method for t in result.by_kind] == [f"rerank:{k.value}" for k in CHUNK_ITEM_KINDS]


def test_harmful_evidence_gets_zero_strength_and_no_items() -> None:
    collected, qrels = _collected(helpful=False)
    result = calibrate(collected, qrels, teacher="t", dataset="synthetic", depth=12)
    assert result.chosen is None
    assert all(not t.admissible or t.mean_delta <= 0 for t in result.grid)  # every strength moved the wrong document up
    assert min(c.delta_ci[0] for t in result.grid for c in t.by_mode.values()) < NON_INFERIORITY
    profile = result.profile
    assert (profile.rerank_lambda, profile.expansion_alpha, profile.item_kinds, profile.search_modes) == (0, 0, [], [])
    assert not profile.uses_items


def test_raw_variant_and_zero_strength_are_identical() -> None:
    collected, qrels = _collected(helpful=True)
    zero = RerankParams(depth=12, kinds=(PointKind.QUESTION,))
    assert run_variant(collected[0], zero) == run_variant(collected[0], None)
    same = compare(collected[0], qrels, zero)
    assert (same.delta, same.delta_ci, same.ties) == (0.0, (0.0, 0.0), N_QUERIES)
    assert len(top_chunks(collected, 3)) == 3 * N_QUERIES


def test_split_is_stable_and_disjoint() -> None:
    ids = [f"q{i}" for i in range(200)]
    fit, held = split_queries(ids)
    assert set(fit).isdisjoint(held) and set(fit) | set(held) == set(ids)
    assert split_queries(list(reversed(ids))) == (fit, held)
    assert 60 < len(fit) < 140
