"""Fine-tuning a sentence-transformers model on (query, passage[, hard negative]) triples, on CPU.

The loss is MultipleNegativesRankingLoss written out: each query's passage must score above every
other passage of the batch (and the batch's mined hard negatives) under scaled cosine similarity.
A plain torch loop: no trainer framework, a progress callback per step, deterministic for a seed.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kernel.adapt_settings import AdaptSettings
from kernel.errors import EmbeddingError
from kernel.settings import configure_offline

#: Cosine similarities are multiplied by this before the softmax (sentence-transformers' default).
SIMILARITY_SCALE = 20.0


class Triple(BaseModel):
    """One training example: a query, a passage that answers it, optionally a passage that does not."""

    model_config = ConfigDict(frozen=True)

    query: str
    positive: str
    negative: str | None = None


class TrainReport(BaseModel):
    """What a fine-tuning run did."""

    pairs: int = Field(description="Training triples.")
    steps: int
    epochs: int
    seconds: float = Field(description="Wall time of the training loop.")
    first_loss: float
    last_loss: float = Field(description="Mean loss over the last 10 steps.")


#: Called as (step, total_steps, loss) after each optimizer step.
StepFn = Callable[[int, int, float], None]


def fine_tune(
    base: Path,
    triples: Sequence[Triple],
    out: Path,
    params: AdaptSettings,
    *,
    threads: int,
    on_step: StepFn | None = None,
) -> TrainReport:
    """Fine-tune the model folder ``base`` on ``triples`` and save it (sentence-transformers layout) to ``out``."""
    if len(triples) < 2:
        raise EmbeddingError("fine-tuning needs at least two pairs (the others in a batch are the negatives)")
    configure_offline()
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    torch.manual_seed(params.seed)
    model: Any = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    examples = list(triples)
    batches_per_epoch = math.ceil(len(examples) / params.batch_size)
    total = batches_per_epoch * params.epochs
    warmup = max(1, int(total * params.warmup_share))
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (total - step) / total)
    )

    longest = int(model.max_seq_length)
    features_of = getattr(model, "preprocess", None) or model.tokenize  # ``tokenize`` is deprecated in 6.x

    def encode(texts: list[str], tokens: int) -> Any:
        model.max_seq_length = min(tokens, longest)  # the tokenizer truncates to it, [SEP] kept
        return torch.nn.functional.normalize(model(features_of(texts))["sentence_embedding"], dim=-1)

    rng = random.Random(params.seed)
    losses: list[float] = []
    started = time.perf_counter()
    model.train()
    step = 0
    for _ in range(params.epochs):
        rng.shuffle(examples)
        for start in range(0, len(examples), params.batch_size):
            batch = examples[start : start + params.batch_size]
            if len(batch) < 2:
                continue  # one pair alone has no negative to learn from
            queries = encode([t.query for t in batch], params.query_tokens)
            passages = [t.positive for t in batch] + [t.negative for t in batch if t.negative is not None]
            encoded = encode(passages, params.passage_tokens)
            scores = queries @ encoded.T * SIMILARITY_SCALE
            loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            losses.append(float(loss.detach()))
            if on_step is not None:
                on_step(step, total, losses[-1])
    model.eval()
    model.max_seq_length = longest
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    return TrainReport(
        pairs=len(examples),
        steps=step,
        epochs=params.epochs,
        seconds=round(time.perf_counter() - started, 2),
        first_loss=losses[0] if losses else 0.0,
        last_loss=sum(losses[-10:]) / max(1, len(losses[-10:])),
    )
