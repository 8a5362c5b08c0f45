"""Settings of embedder adaptation (``synthrag adapt``), nested in :class:`kernel.settings.Settings` as ``adapt``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AdaptSettings(BaseModel):
    """How a collection's embedder is fine-tuned, judged and switched (env ``SYNTHRAG_ADAPT__*``)."""

    model_config = ConfigDict(extra="forbid")

    # 3 epochs at 2e-4 chosen by the recipe sweep (bench/ADAPT_SWEEP.md): 1 epoch at 5e-5 gained ~0.01 nDCG@10,
    # which no gate can tell from zero; this one +0.04 at 3x the training time (README, "Embedder adaptation").
    epochs: int = Field(default=3, ge=1, le=20, description="Passes over the training pairs.")
    batch_size: int = Field(default=32, ge=2, le=512, description="Pairs per step (the others are in-batch negatives).")
    learning_rate: float = Field(default=2e-4, gt=0, le=1e-2, description="AdamW peak learning rate (linear decay).")
    warmup_share: float = Field(default=0.1, ge=0.0, le=0.5, description="Share of the steps spent warming up.")
    query_tokens: int = Field(default=64, ge=8, le=512, description="Word pieces of a training query kept.")
    passage_tokens: int = Field(default=256, ge=16, le=512, description="Word pieces of a training passage kept.")
    hard_negatives: bool = Field(
        default=True, description="Add one mined hard negative per pair (a top hybrid hit that is not relevant)."
    )
    negative_depth: int = Field(default=20, ge=2, le=200, description="Hybrid hits hard negatives are drawn from.")
    held_apart: float = Field(
        default=0.2, gt=0.0, lt=1.0, description="Share of the queries held apart to judge the adapted model."
    )
    min_pairs: int = Field(default=20, ge=2, description="Fewest training pairs adaptation runs with.")
    confidence: float = Field(
        default=0.95,
        gt=0.5,
        lt=1.0,
        description="The gate needs the gain's paired interval above 0 at this level.",
    )
    seed: int = Field(default=0, description="Seed of the split, the shuffles and the negatives.")
    synthetic_pairs: bool = Field(
        default=True, description="Train on the synthetic companion's kept questions too (when the collection has one)."
    )
