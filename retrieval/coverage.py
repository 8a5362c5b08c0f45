"""Coverage diversification: documents ranked by a fitted relevance estimate, chunks placed by expected gain.

``coverage`` re-orders a search's top hits so that the first places cover as many *relevant documents* as
the evidence supports. Each document among the candidates gets a probability of being relevant from a small
logistic model over features of the search itself (its fused rank, how each arm ranked and scored it, how
many of its chunks came back, how alike its best chunk is to the top hit and to the other top documents:
documents that answer one question tend to resemble each other). Places are then filled greedily by
expected gain, as in expected alpha-nDCG: a document not shown yet earns its probability ``p``, a further
chunk of a shown document earns ``p * (1 - decay) ** shown``. So a likely-relevant document's second chunk
can still come before an unlikely newcomer, while weak repeats give way to other documents.

The model's weights are fitted on a train split (:mod:`evaluation.coverage_fit`, ``python -m bench coverage``);
the bundled one (``retrieval/models/coverage.json``) on SciFact train. Everything here is pure.

Coverage counts documents, as alpha-nDCG does: a document's further chunks are worth little once it is
shown. That holds for short documents (an abstract's chunks restate one finding) and not for long ones (a
transcript's further chunks carry other facts). ``auto`` (:func:`auto_method`) therefore covers a search
whose candidates come mostly from short documents and only sets back near-duplicates in the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kernel.errors import ConfigError
from kernel.models import Diversity, Hit
from retrieval.diversity import Vectors, near_duplicates, unit_vectors

#: ``auto`` covers unless documents known to be long hold at least this share of the candidates.
LONG_SHARE = 0.5

#: The features a coverage model weighs, in order (see :func:`document_features`).
FEATURES: tuple[str, ...] = (
    "inv_rank",
    "log_rank",
    "dense_gap",
    "bm25_ratio",
    "inv_dense_rank",
    "inv_bm25_rank",
    "chunks",
    "is_top",
    "sim_top",
    "sim_peers",
)


class CoverageModel(BaseModel):
    """A fitted logistic model of document relevance, and how much a repeated document's gain decays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: tuple[str, ...] = Field(default=FEATURES, description="Feature names, in the weights' order.")
    weights: tuple[float, ...] = Field(description="One weight per feature.")
    bias: float = Field(description="Intercept (log-odds of a document with all features 0).")
    decay: float = Field(default=0.9, ge=0.0, le=1.0, description="Share of a document's gain lost per chunk shown.")
    peers: int = Field(default=5, ge=1, description="Top documents whose best chunks sim_peers compares with.")
    fitted_on: str = Field(default="", description="Data the weights were fitted on (for the record).")

    @model_validator(mode="after")
    def _shape(self) -> CoverageModel:
        if self.features != FEATURES:
            raise ValueError(f"coverage model features must be {list(FEATURES)}, got {list(self.features)}")
        if len(self.weights) != len(self.features):
            raise ValueError(f"coverage model has {len(self.weights)} weights for {len(self.features)} features")
        return self


def load_model(path: Path | None = None) -> CoverageModel:
    """The coverage model in ``path`` (JSON), or the bundled one; raises ConfigError on a bad file."""
    try:
        text = (
            path.read_text()
            if path is not None
            else resources.files("retrieval").joinpath("models", "coverage.json").read_text()
        )
        return CoverageModel.model_validate(json.loads(text))
    except (OSError, ValueError, ValidationError) as exc:
        where = path if path is not None else "the bundled retrieval/models/coverage.json"
        raise ConfigError(f"cannot load the coverage model from {where}: {exc}") from exc


def _documents(hits: Sequence[Hit]) -> dict[str, Hit]:
    """Each document's best hit, in ranking order."""
    best: dict[str, Hit] = {}
    for hit in hits:
        best.setdefault(hit.document_id, hit)
    return best


def document_features(
    hits: Sequence[Hit],
    *,
    dense: Sequence[Hit],
    sparse: Sequence[Hit],
    vectors: Vectors,
    peers: int = 5,
) -> dict[str, list[float]]:
    """The :data:`FEATURES` of every document among ``hits``, by document id.

    Args:
        hits: The fused candidates, best first (a document may have several chunks).
        dense: The dense arm's hits, best first; ``sparse``: the BM25 arm's.
        vectors: Dense vectors by hit id (at least the candidates' best chunks); a missing one counts
            as dissimilar to everything.
        peers: How many top documents ``sim_peers`` averages over.

    Returns:
        For each document, in ranking order: 1/rank and log(rank) of its best chunk among documents,
        its best dense score minus the arm's top score (the arm's lowest when the arm missed it), its
        best BM25 score over the arm's top (0 when missed), 1/(1 + its document rank) in each arm (0 when
        missed), its chunks among ``hits``, whether it is the top document, the cosine of its best chunk
        with the top hit (1 for the top document) and the mean cosine with the other top ``peers``
        documents' best chunks.
    """
    best = _documents(hits)
    order = list(best)
    dense_best, sparse_best = _documents(dense), _documents(sparse)
    dense_rank = {doc: i for i, doc in enumerate(dense_best)}
    sparse_rank = {doc: i for i, doc in enumerate(sparse_best)}
    dense_top = dense[0].score if dense else 0.0
    dense_floor = dense[-1].score if dense else 0.0
    sparse_top = sparse[0].score if sparse else 0.0
    chunks: dict[str, int] = {}
    for hit in hits:
        chunks[hit.document_id] = chunks.get(hit.document_id, 0) + 1
    units = unit_vectors(list(best.values()), vectors)
    top_vector = units.get(hits[0].id) if hits else None
    peer_docs = order[:peers]
    features: dict[str, list[float]] = {}
    for rank, doc in enumerate(order, 1):
        mine = units.get(best[doc].id)
        others = [units.get(best[o].id) for o in peer_docs if o != doc]
        sims = [float(mine @ v) if mine is not None else 0.0 for v in others if v is not None]
        features[doc] = [
            1.0 / rank,
            math.log(rank),
            (dense_best[doc].score if doc in dense_best else dense_floor) - dense_top,
            sparse_best[doc].score / sparse_top if doc in sparse_best and sparse_top > 0 else 0.0,
            1.0 / (1 + dense_rank[doc]) if doc in dense_rank else 0.0,
            1.0 / (1 + sparse_rank[doc]) if doc in sparse_rank else 0.0,
            float(chunks[doc]),
            1.0 if rank == 1 else 0.0,
            1.0 if rank == 1 else (float(mine @ top_vector) if mine is not None and top_vector is not None else 0.0),
            sum(sims) / len(sims) if sims else 0.0,
        ]
    return features


def relevance(model: CoverageModel, features: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Each document's probability of being relevant under ``model`` (logistic of the weighted features)."""
    out: dict[str, float] = {}
    for doc, values in features.items():
        z = model.bias + math.fsum(w * x for w, x in zip(model.weights, values, strict=True))
        out[doc] = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    return out


def coverage_order(hits: Sequence[Hit], probability: Mapping[str, float], *, decay: float) -> list[Hit]:
    """The hits re-ordered greedily by expected gain (see the module doc); nothing dropped.

    Documents are taken in order of ``probability`` (ties: ranking order); each document's chunks keep
    their order. A further chunk of a shown document goes before the next new document only when
    ``p * (1 - decay) ** shown`` is larger than the newcomer's ``p``.
    """
    chunks: dict[str, list[Hit]] = {}
    for hit in hits:
        chunks.setdefault(hit.document_id, []).append(hit)
    ranked = sorted(chunks, key=lambda doc: -probability.get(doc, 0.0))  # sorted() is stable: ties keep rank
    shown: dict[str, int] = {}
    out: list[Hit] = []
    fresh = 0
    while len(out) < len(hits):
        gain, pick = -1.0, ""
        if fresh < len(ranked):
            gain, pick = probability.get(ranked[fresh], 0.0), ranked[fresh]
        for doc, count in shown.items():
            if count < len(chunks[doc]):
                repeat = probability.get(doc, 0.0) * (1.0 - decay) ** count
                if repeat > gain:
                    gain, pick = repeat, doc
        if pick not in shown:
            fresh += 1
        out.append(chunks[pick][shown.get(pick, 0)])
        shown[pick] = shown.get(pick, 0) + 1
    return out


def cover(
    hits: Sequence[Hit],
    *,
    dense: Sequence[Hit],
    sparse: Sequence[Hit],
    vectors: Vectors,
    model: CoverageModel,
    similarity: float,
    first: Collection[str] = (),
) -> list[Hit]:
    """``hits`` re-ordered by coverage, every near-duplicate of an earlier hit set back.

    :func:`document_features`, :func:`relevance`, :func:`coverage_order`, then
    :func:`retrieval.diversity.near_duplicates` at ``similarity``: a passage is never shown twice.
    Hits whose ids are in ``first`` (those a query's period/organisation preference put first) are
    covered on their own and stay ahead of the others: look-alike documents of other quarters resemble
    the right one, and coverage must not undo that choice.
    """
    out: list[Hit] = []
    for group in ([h for h in hits if h.id in first], [h for h in hits if h.id not in first]):
        if group:
            features = document_features(group, dense=dense, sparse=sparse, vectors=vectors, peers=model.peers)
            out += coverage_order(group, relevance(model, features), decay=model.decay)
    return near_duplicates(out, vectors, similarity=similarity)


def long_share(hits: Sequence[Hit], *, long_document: int) -> float:
    """Share of ``hits`` from documents seen to be long: one of their hits is at chunk index ``long_document`` or later.

    A hit's chunk index is a lower bound of its document's length, so this needs no lookup; hits without a
    chunk index count as short. 0.0 for no hits.
    """
    long = {h.document_id for h in hits if h.chunk_index is not None and h.chunk_index >= long_document}
    return sum(h.document_id in long for h in hits) / len(hits) if hits else 0.0


def auto_method(hits: Sequence[Hit], *, long_document: int) -> Diversity:
    """What ``auto`` does with these candidates: ``coverage`` unless long documents hold half of them or more.

    Otherwise ``near-duplicates``: a long document's further chunks are new facts, not repeats (module doc).
    """
    short = long_share(hits, long_document=long_document) < LONG_SHARE
    return Diversity.COVERAGE if short else Diversity.NEAR_DUPLICATES
