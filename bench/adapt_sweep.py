"""Adaptation recipe sweep: N-fold cross-validation of fine-tuning recipes from a bundle, on any torch device.

``synthrag eval --adapt train --folds 5`` measures one recipe on the production path, re-embedding the
collection per fold (about 8 minutes on 2 cores for SciFact train), so comparing recipes there costs hours.
This runs the same measurement offline: for each recipe and fold it fine-tunes the bundle's model the way
``adaptation.train.fine_tune`` does (MultipleNegativesRankingLoss, scale 20, AdamW, warm-up then linear
decay, 64 query / 256 passage word pieces, the mined positive and hard negatives of ``adaptation.mining``),
encodes every chunk, and scores each evaluated query's nDCG@10 in dense, hybrid (RRF, ``rrf_k``) and convex
(min-max, w = 0.5) search over the bundle's stored BM25 candidates; plus the gate's verdict on the fold's
held-apart queries (hybrid gain, paired bootstrap, interval above 0).

It imports only numpy, torch and sentence-transformers (no project package), so a bundle made by
``python -m bench adapt-bundle`` can be carried to a machine with an accelerator and run there:

    python bench/adapt_sweep.py BUNDLE OUT.jsonl [--recipes JSON] [--smoke]

A recipe is a JSON object: ``epochs`` (1), ``lr`` (5e-5), ``bs`` (32), ``negs`` (hard negatives per pair, 1),
``all`` (train on the held-apart queries too), ``sym`` (symmetric loss), ``seed`` (0). One JSON line per
recipe is printed and appended to OUT. Choose recipes here, then confirm on the production path.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: What a recipe leaves out: the recipe ``synthrag adapt`` shipped before this sweep (1 epoch at 5e-5).
DEFAULT_RECIPE: dict[str, Any] = {"epochs": 1, "lr": 5e-5, "bs": 32, "negs": 1}
SCALE = 20.0
QUERY_TOKENS = 64
PASSAGE_TOKENS = 256
MODES = ("dense", "hybrid", "convex")
Scored = list[tuple[str, float]]


@dataclass
class Bundle:
    """What ``bench adapt-bundle`` wrote: chunks, queries, judgements, BM25 candidates, mining, folds."""

    folder: Path
    ids: list[str]
    docs: list[str]
    texts: list[str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    bm25: dict[str, Scored]
    dense_base: dict[str, Scored]
    mine: dict[str, dict[str, Any]]
    plan: list[dict[str, list[str]]]
    rrf_k: int
    prefetch: int

    @property
    def index(self) -> dict[str, int]:
        return {pid: i for i, pid in enumerate(self.ids)}


def load_bundle(folder: Path, *, smoke: bool = False) -> Bundle:
    """Read ``data.json.gz``; ``smoke`` keeps one small fold and the chunks of its documents plus 200 others."""
    with gzip.open(folder / "data.json.gz", "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    chunks = data["chunks"]
    plan = data["plan"]
    if smoke:
        first = set(list(data["qrels"])[:40])
        keep = {d for q in first for d in data["qrels"][q]}
        chunks = [c for c in chunks if c[1] in keep] + [c for c in chunks if c[1] not in keep][:200]
        plan = [{k: [q for q in v if q in first or k == "train"][:60] for k, v in plan[0].items()}]
    present = {c[0] for c in chunks}
    return Bundle(
        folder=folder,
        ids=[c[0] for c in chunks],
        docs=[c[1] for c in chunks],
        texts=[c[2] for c in chunks],
        queries=data["queries"],
        qrels=data["qrels"],
        bm25={q: [(p, s) for p, s in v if p in present] for q, v in data["bm25"].items()},
        dense_base={q: [(p, s) for p, s in v if p in present] for q, v in data["dense_base"].items()},
        mine=data["mine"],
        plan=plan,
        rrf_k=int(data["rrf_k"]),
        prefetch=int(data["prefetch"]),
    )


def ndcg10(ranked_docs: list[str], rel: dict[str, int]) -> float:
    """nDCG@10 over documents, each at its first place (``evaluation.metrics.ndcg_at_k``)."""
    top: list[str] = []
    for doc in ranked_docs:
        if doc not in top:
            top.append(doc)
        if len(top) == 10:
            break
    ideal = sorted((g for g in rel.values() if g > 0), reverse=True)[:10]
    if not ideal:
        return 0.0
    dcg = sum(max(rel.get(d, 0), 0) / math.log2(r + 1) for r, d in enumerate(top, 1))
    return dcg / sum(g / math.log2(r + 1) for r, g in enumerate(ideal, 1))


def rrf_scores(rankings: list[list[str]], k: int) -> dict[str, float]:
    """Qdrant's RRF scores (``retrieval.fusion.rrf_fuse`` with unit weights), in first-seen order."""
    score: dict[str, float] = {}
    for ranking in rankings:
        for pos, pid in enumerate(ranking):
            score[pid] = score.get(pid, 0.0) + 1.0 / (pos + k)
    return score


def rrf(rankings: list[list[str]], k: int) -> list[str]:
    """Ids by RRF score, ties in first-seen order (the store breaks ties its own way)."""
    score = rrf_scores(rankings, k)
    return sorted(score, key=lambda p: -score[p])


def _minmax(arm: Scored) -> dict[str, float]:
    low, high = min(s for _, s in arm), max(s for _, s in arm)
    return {p: (s - low) / (high - low) if high > low else 1.0 for p, s in arm}


def convex(dense: Scored, sparse: Scored, weight: float = 0.5) -> list[str]:
    """``retrieval.fusion.convex_fuse`` with min-max: a missing id gets its arm's floor; ties by id."""
    nd, ns = _minmax(dense), _minmax(sparse)
    floor_d, floor_s = min(nd.values()), min(ns.values())
    every = set(nd) | set(ns)
    fused = {p: weight * nd.get(p, floor_d) + (1 - weight) * ns.get(p, floor_s) for p in every}
    return sorted(every, key=lambda p: (-fused[p], p))


def scores_for(bundle: Bundle, dense_top: dict[str, Scored], qids: list[str]) -> dict[str, dict[str, float]]:
    """Per mode, each query's nDCG@10 from its dense candidates and the bundle's BM25 ones."""
    index = bundle.index
    res: dict[str, dict[str, float]] = {m: {} for m in MODES}
    for q in qids:
        dense, sparse, rel = dense_top[q], bundle.bm25.get(q, []), bundle.qrels[q]
        res["dense"][q] = ndcg10([bundle.docs[index[p]] for p, _ in dense], rel)
        fused = rrf([[p for p, _ in dense[: bundle.prefetch]], [p for p, _ in sparse[: bundle.prefetch]]], bundle.rrf_k)
        res["hybrid"][q] = ndcg10([bundle.docs[index[p]] for p in fused], rel)
        mixed = convex(dense[: bundle.prefetch], sparse[: bundle.prefetch]) if sparse else [p for p, _ in dense]
        res["convex"][q] = ndcg10([bundle.docs[index[p]] for p in mixed], rel)
    return res


def boot(diffs: list[float], resamples: int = 10000, seed: int = 0, confidence: float = 0.95) -> tuple[float, ...]:
    """Mean and paired bootstrap percentile interval of per-query differences."""
    values = np.asarray(diffs, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2
    return float(values.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def _load(bundle: Bundle, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(bundle.folder / "model"), device=device, local_files_only=True).float()


def dense_search(model: Any, bundle: Bundle, qids: list[str], device: str) -> dict[str, Scored]:
    """Every chunk encoded by ``model``; each query's 100 best chunks by cosine."""
    import torch

    model.eval()
    model.max_seq_length = PASSAGE_TOKENS
    with torch.no_grad():
        chunks = model.encode(bundle.texts, batch_size=256, convert_to_tensor=True, normalize_embeddings=True)
        asked = model.encode([bundle.queries[q] for q in qids], batch_size=256, convert_to_tensor=True,
                             normalize_embeddings=True)  # fmt: skip
        top = torch.topk(asked @ chunks.T, k=min(100, len(bundle.ids)), dim=1)
    values, places = top.values.cpu().numpy(), top.indices.cpu().numpy()
    return {
        q: [(bundle.ids[j], float(v)) for j, v in zip(places[i], values[i], strict=True)] for i, q in enumerate(qids)
    }


def triples(bundle: Bundle, train_qids: list[str], recipe: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(query, positive, hard negatives) per training query, negatives drawn from the mined candidates."""
    rng = random.Random(recipe.get("seed", 0))
    index = bundle.index
    out = []
    for q in train_qids:
        mined = bundle.mine.get(q)
        if not mined or mined["pos"] not in index:
            continue
        negatives = [p for p in mined["negs"] if p in index]
        wanted = int(recipe.get("negs", 1))
        chosen = rng.sample(negatives, min(wanted, len(negatives))) if wanted and negatives else []
        out.append((bundle.queries[q], bundle.texts[index[mined["pos"]]], [bundle.texts[index[p]] for p in chosen]))
    return out


def fine_tune(bundle: Bundle, examples: list[tuple[str, str, list[str]]], recipe: dict[str, Any], device: str) -> Any:
    """The loop of ``adaptation.train.fine_tune`` on ``device`` (``sym`` adds the passage-to-query term)."""
    import torch

    torch.manual_seed(recipe.get("seed", 0))
    model = _load(bundle, device)
    size, epochs, lr = int(recipe.get("bs", 32)), int(recipe.get("epochs", 1)), float(recipe.get("lr", 5e-5))
    total = math.ceil(len(examples) / size) * epochs
    warmup = max(1, int(total * 0.1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / total)
    )
    features_of = getattr(model, "preprocess", None) or model.tokenize

    def encode(texts: list[str], tokens: int) -> Any:
        model.max_seq_length = tokens
        features = {k: (v.to(device) if hasattr(v, "to") else v) for k, v in features_of(texts).items()}
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    rng = random.Random(recipe.get("seed", 0))
    shuffled = list(examples)
    model.train()
    for _ in range(epochs):
        rng.shuffle(shuffled)
        for start in range(0, len(shuffled), size):
            batch = shuffled[start : start + size]
            if len(batch) < 2:
                continue
            asked = encode([e[0] for e in batch], QUERY_TOKENS)
            passages = encode([e[1] for e in batch] + [n for e in batch for n in e[2]], PASSAGE_TOKENS)
            scores = asked @ passages.T * SCALE
            labels = torch.arange(len(batch), device=device)
            loss = torch.nn.functional.cross_entropy(scores, labels)
            if recipe.get("sym"):
                loss = (loss + torch.nn.functional.cross_entropy(scores[:, : len(batch)].T, labels)) / 2
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
    return model


def _means(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    return {m: round(float(np.mean(list(v.values()))), 4) for m, v in scores.items()}


def sweep(bundle: Bundle, recipes: list[dict[str, Any]], device: str, emit: Any) -> None:
    """Base scores once, then every recipe over every fold; ``emit`` gets one dict per line."""
    every = sorted({q for fold in bundle.plan for key in ("eval", "held") for q in fold[key]})
    started = time.perf_counter()
    emit({"what": "reference (stored base dense lists)", **_means(scores_for(bundle, bundle.dense_base, every))})
    base = scores_for(bundle, dense_search(_load(bundle, device), bundle, every, device), every)
    emit({"what": "base (encoded here)", **_means(base)})
    for recipe in recipes:
        served: dict[str, dict[str, float]] = {m: {} for m in MODES}
        gates, seconds = [], []
        for fold in bundle.plan:
            began = time.perf_counter()
            train = fold["train"] + (fold["held"] if recipe.get("all") else [])
            model = fine_tune(bundle, triples(bundle, train, recipe), recipe, device)
            asked = fold["eval"] + fold["held"]
            got = scores_for(bundle, dense_search(model, bundle, asked, device), asked)
            for mode in MODES:
                served[mode].update({q: got[mode][q] for q in fold["eval"]})
            gate = boot([got["hybrid"][q] - base["hybrid"][q] for q in fold["held"]])
            gates.append([round(x, 4) for x in gate] + [gate[1] > 0])
            seconds.append(round(time.perf_counter() - began, 1))
        row: dict[str, Any] = {"recipe": {**DEFAULT_RECIPE, **recipe}}
        for mode in MODES:
            qs = sorted(served[mode])
            delta = boot([served[mode][q] - base[mode][q] for q in qs])
            row[mode] = {
                "base": round(float(np.mean([base[mode][q] for q in qs])), 4),
                "adapted": round(float(np.mean([served[mode][q] for q in qs])), 4),
                "delta": [round(x, 4) for x in delta],
            }
        row.update(gates=gates, passed=sum(bool(g[-1]) for g in gates), fold_seconds=seconds)
        row["elapsed"] = round(time.perf_counter() - started, 1)
        emit(row)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    import torch

    folder, out = Path(argv[0]), Path(argv[1])
    recipes = json.loads(argv[argv.index("--recipes") + 1]) if "--recipes" in argv else [{}]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bundle = load_bundle(folder, smoke="--smoke" in argv)
    with out.open("a", encoding="utf-8") as handle:

        def emit(obj: dict[str, Any]) -> None:
            print(json.dumps(obj), flush=True)
            handle.write(json.dumps(obj) + "\n")
            handle.flush()

        sweep(bundle, recipes, device, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
