"""RRF vs convex fusion of the dense and BM25 arms, over a grid of weights and normalizations, on a BEIR split.

Each query's two arms are searched once (``SYNTHRAG_PREFETCH_LIMIT`` chunks each, the production
candidates), then fused every way offline: RRF with ``SYNTHRAG_RRF_K`` (Qdrant's formula, what
``hybrid`` runs in the store) and the convex combination for each normalization and dense weight.
Chunks collapse to documents as in ``synthrag eval``; each cell is nDCG@10, and the best convex cell
is compared with RRF per query (paired bootstrap interval). Tune on train, never on test.

``python -m bench fusion [--dataset DIR] [--split S] [--sample-docs N] [--space SPACE]``; writes
``bench/FUSION.md`` and ``bench/fusion.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from app.components import build_configured
from evaluation.beir import BeirDataset
from evaluation.metrics import ndcg_at_k
from evaluation.paired import paired_comparison
from evaluation.runner import prepare_dataset
from kernel.models import Diversity, Hit, SearchMode
from kernel.settings import Settings, get_settings
from retrieval.fusion import convex_fuse, rrf_fuse

HERE = Path(__file__).resolve().parent
SCIFACT = HERE.parents[1] / "shared" / "eval" / "scifact"
WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
NORMS = ("minmax", "zscore")


def _documents(ids: Sequence[str], source: dict[str, str]) -> list[str]:
    ranked: list[str] = []
    for pid in ids:
        doc = source[pid]
        if doc not in ranked:
            ranked.append(doc)
    return ranked[:100]


Arms = dict[str, tuple[list[Hit], list[Hit]]]


def collect_arms(args: argparse.Namespace, settings: Settings) -> tuple[BeirDataset, Arms]:
    """Index the split once (reused), then each judged query's dense and BM25 candidates."""
    components = build_configured(settings, answers=False, synthesis=False)
    searcher = components.search.searcher
    arms: Arms = {}
    try:
        dataset, collection, _ = prepare_dataset(
            args.dataset, args.split, store=components.search.store, ingestor=components.ingest.ingestor,
            sample_docs=args.sample_docs,
        )  # fmt: skip
        for number, qid in enumerate(sorted(dataset.qrels), start=1):
            text = dataset.queries[qid]
            vector = searcher.embed_query(text, collection=collection, space=args.space)
            dense = searcher.search(
                text, collection=collection, k=settings.prefetch_limit, mode=SearchMode.DENSE, synthetic=False,
                diversity=Diversity.NONE, query_vector=vector, space=args.space,
            )  # fmt: skip
            bm25 = searcher.search(
                text, collection=collection, k=settings.prefetch_limit, mode=SearchMode.BM25, synthetic=False,
                diversity=Diversity.NONE,
            )  # fmt: skip
            arms[qid] = (dense.hits, bm25.hits)
            if number % 100 == 0:
                print(f"{number} queries", file=sys.stderr)
    finally:
        components.close()
    return dataset, arms


def fused_scores(
    dataset: BeirDataset, arms: Arms, *, rrf_k: int, norm: str | None, weight: float = 0.0
) -> dict[str, float]:
    """nDCG@10 per query of the arms fused by RRF (``norm`` None) or convexly."""
    source = {h.id: h.source for dense, bm25 in arms.values() for h in [*dense, *bm25]}
    out = {}
    for qid, (dense, bm25) in arms.items():
        if norm is None:
            fused = rrf_fuse([[h.id for h in dense], [h.id for h in bm25]], k=rrf_k)
        else:
            scored = [(h.id, h.score) for h in dense], [(h.id, h.score) for h in bm25]
            fused = convex_fuse(*scored, dense_weight=weight, norm=norm)
        out[qid] = ndcg_at_k(_documents([pid for pid, _ in fused], source), dataset.qrels[qid], 10)
    return out


def _mean(scores: dict[str, float]) -> float:
    return sum(scores.values()) / len(scores)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench fusion", description=__doc__)
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--split", default="train")
    parser.add_argument("--sample-docs", type=int, default=None)
    parser.add_argument("--space", default="dense", help="dense space of the dense arm (default: the base model's)")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    settings = get_settings()
    dataset, arms = collect_arms(args, settings)
    k = settings.rrf_k
    rrf = fused_scores(dataset, arms, rrf_k=k, norm=None)
    dense_only = _mean(fused_scores(dataset, arms, rrf_k=k, norm="minmax", weight=1.0))
    bm25_only = _mean(fused_scores(dataset, arms, rrf_k=k, norm="minmax", weight=0.0))
    grid = {(n, w): fused_scores(dataset, arms, rrf_k=k, norm=n, weight=w) for n in NORMS for w in WEIGHTS}
    mean = {key: _mean(v) for key, v in grid.items()}
    best = max(mean, key=lambda key: mean[key])
    paired = paired_comparison(rrf, grid[best])
    low, high = paired.delta_ci
    command = f"python -m bench fusion --split {args.split}"
    if args.sample_docs:
        command += f" --sample-docs {args.sample_docs}"
    lines = [
        f"# Fusion: RRF vs convex ({args.dataset.name} {args.split}, {len(arms)} queries, "
        f"{settings.prefetch_limit} candidates per arm, dense space `{args.space}`)",
        "",
        f"`{command}`",
        "",
        f"RRF (k={k}): nDCG@10 {_mean(rrf):.4f}; dense alone {dense_only:.4f}; BM25 alone {bm25_only:.4f}.",
        "",
        "| norm | " + " | ".join(f"w={w}" for w in WEIGHTS) + " |",
        "|---|" + "---|" * len(WEIGHTS),
        *(f"| {n} | " + " | ".join(f"{mean[(n, w)]:.4f}" for w in WEIGHTS) + " |" for n in NORMS),
        "",
        f"Best convex: {best[0]} w={best[1]}: {mean[best]:.4f}, vs RRF {paired.delta:+.4f} [{low:+.4f}, {high:+.4f}] "
        f"(95% paired bootstrap), wins/ties/losses {paired.wins}/{paired.ties}/{paired.losses}.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "FUSION.md").write_text(report, encoding="utf-8")
    body = {
        "rrf": _mean(rrf),
        "grid": [{"norm": n, "weight": w, "ndcg@10": m} for (n, w), m in mean.items()],
        "best": {"norm": best[0], "weight": best[1], **paired.as_json()},
    }
    (args.out / "fusion.json").write_text(json.dumps(body, indent=2), encoding="utf-8")
    return 0
