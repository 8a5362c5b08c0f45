"""Fitting a coverage model (:mod:`retrieval.coverage`) on a judged split, and scoring it on unseen queries.

Each query is searched once the way the service searches with ``diversity: coverage`` (hybrid, the
candidates' vectors, one dense and one BM25 arm ``prefetch_limit`` deep); every candidate document becomes
one row: its features and whether the query's judgments call it relevant. A logistic model with an L2
penalty is fitted by Newton's method. :func:`cross_fitted` scores every query with a model fitted on the
other folds, so what it reports is what the model does on queries it has never seen; :func:`automatic` turns
those orders into what ``diversity: auto`` gives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evaluation.beir import BeirDataset
from evaluation.runner import CHUNK_DEPTH
from kernel.models import Diversity, Hit, SearchMode
from kernel.settings import Settings
from retrieval.coverage import FEATURES, CoverageModel, auto_method, cover, document_features
from retrieval.diversity import DiversityParams, diversify
from retrieval.search import Searcher

#: L2 penalty on the weights (not the bias): 0.5 * PENALTY * |w|^2 added to the summed log-loss.
PENALTY = 1.0


@dataclass(frozen=True, slots=True)
class QueryRows:
    """One query's plain hybrid hits (``CHUNK_DEPTH`` deep), each arm's hits, its candidates' vectors, and
    the features of its candidate documents (what the fit reads)."""

    hits: list[Hit]
    dense: list[Hit]
    sparse: list[Hit]
    vectors: dict[str, list[float]]
    features: dict[str, list[float]]


def collect(
    dataset: BeirDataset,
    searcher: Searcher,
    *,
    collection: str,
    settings: Settings,
    peers: int = 5,
    on_query: Callable[[], object] | None = None,
) -> dict[str, QueryRows]:
    """Search every judged query as coverage does and keep its hits and candidate features."""
    judged = {qid for qid, rels in dataset.qrels.items() if any(grade > 0 for grade in rels.values())}
    out: dict[str, QueryRows] = {}
    for query_id, text in dataset.queries.items():
        if query_id not in judged:
            continue
        vector = searcher.embed_query(text, collection=collection)
        common = {"collection": collection, "synthetic": False, "diversity": Diversity.NONE, "query_vector": vector}
        fused = searcher.search(text, k=CHUNK_DEPTH, mode=SearchMode.HYBRID, with_vectors=True, **common)  # type: ignore[arg-type]
        dense, sparse = (
            searcher.search(text, k=settings.prefetch_limit, mode=arm, **common).hits  # type: ignore[arg-type]
            for arm in (SearchMode.DENSE, SearchMode.BM25)
        )
        head = fused.hits[: settings.diversity_candidates]
        features = document_features(head, dense=dense, sparse=sparse, vectors=fused.vectors, peers=peers)
        vectors = {h.id: fused.vectors[h.id] for h in head if h.id in fused.vectors}
        out[query_id] = QueryRows(hits=fused.hits, dense=dense, sparse=sparse, vectors=vectors, features=features)
        if on_query is not None:
            on_query()
    return out


def design(
    rows: Mapping[str, QueryRows], qrels: Mapping[str, Mapping[str, int]], query_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix and 0/1 labels of every candidate document of ``query_ids`` (the source is the BEIR id)."""
    x: list[list[float]] = []
    y: list[float] = []
    for qid in query_ids:
        row = rows[qid]
        source = {h.document_id: h.source for h in row.hits}
        for doc, values in row.features.items():
            x.append(values)
            y.append(1.0 if qrels.get(qid, {}).get(source[doc], 0) > 0 else 0.0)
    return np.asarray(x, dtype=float).reshape(-1, len(FEATURES)), np.asarray(y, dtype=float)


def fit(x: np.ndarray, y: np.ndarray, *, penalty: float = PENALTY, steps: int = 50) -> tuple[list[float], float]:
    """Logistic regression weights and bias by Newton's method (L2 ``penalty`` on the weights only)."""
    design_matrix = np.hstack([x, np.ones((x.shape[0], 1))])
    ridge = np.eye(design_matrix.shape[1]) * penalty
    ridge[-1, -1] = 0.0
    theta = np.zeros(design_matrix.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design_matrix @ theta, -30, 30)))
        gradient = design_matrix.T @ (p - y) + ridge @ theta
        hessian = (design_matrix * (p * (1 - p))[:, None]).T @ design_matrix + ridge + np.eye(len(theta)) * 1e-9
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return [float(w) for w in theta[:-1]], float(theta[-1])


def model_from(x: np.ndarray, y: np.ndarray, *, decay: float, peers: int, fitted_on: str) -> CoverageModel:
    """A :class:`CoverageModel` fitted on ``x``, ``y``."""
    weights, bias = fit(x, y)
    return CoverageModel(weights=tuple(weights), bias=bias, decay=decay, peers=peers, fitted_on=fitted_on)


def fold_of(query_id: str, folds: int, seed: int) -> int:
    """A query's fold: a hash of its id and the seed (stable across runs and machines)."""
    return int(hashlib.sha256(f"{seed}:{query_id}".encode()).hexdigest(), 16) % folds


def reorder(row: QueryRows, model: CoverageModel, *, candidates: int, similarity: float) -> list[Hit]:
    """The query's hits as ``diversity: coverage`` orders them under ``model`` (no query preference here)."""
    head, tail = row.hits[:candidates], row.hits[candidates:]
    return (
        cover(head, dense=row.dense, sparse=row.sparse, vectors=row.vectors, model=model, similarity=similarity) + tail
    )


def cross_fitted(
    rows: Mapping[str, QueryRows],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    folds: int,
    seed: int,
    decay: float,
    peers: int,
    candidates: int,
    similarity: float,
) -> dict[str, list[Hit]]:
    """Every query's hits ordered by a model fitted on the other ``folds - 1`` folds."""
    ids = sorted(rows)
    fold = {qid: fold_of(qid, folds, seed) for qid in ids}
    out: dict[str, list[Hit]] = {}
    for k in range(folds):
        train = [qid for qid in ids if fold[qid] != k]
        x, y = design(rows, qrels, train)
        model = model_from(x, y, decay=decay, peers=peers, fitted_on=f"fold {k}")
        for qid in (q for q in ids if fold[q] == k):
            out[qid] = reorder(rows[qid], model, candidates=candidates, similarity=similarity)
    return out


def automatic(
    rows: Mapping[str, QueryRows],
    covered: Mapping[str, list[Hit]],
    *,
    candidates: int,
    similarity: float,
    long_document: int,
) -> dict[str, list[Hit]]:
    """``diversity: auto`` per query: its ``covered`` order, or near-duplicates where long documents fill it."""
    repeats = DiversityParams(method=Diversity.NEAR_DUPLICATES, similarity=similarity, candidates=candidates)
    return {
        qid: covered[qid]
        if auto_method(row.hits[:candidates], long_document=long_document) is Diversity.COVERAGE
        else diversify(row.hits, repeats, row.vectors)
        for qid, row in rows.items()
    }
