"""What ``eval --synthetic`` and ``calibrate`` share: components that generate every item kind, the prepared sample."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from app.components import Components, build_configured
from evaluation.beir import BeirDataset
from evaluation.runner import CHUNK_DEPTH, prepare_dataset, prepare_synthetic
from evaluation.synthetic import Collected
from ingest.pipeline import IngestOutcome
from kernel.errors import InvalidRequestError
from kernel.models import SearchMode
from kernel.settings import Settings


@dataclass(frozen=True, slots=True)
class SyntheticSample:
    """An indexed, synthesized sample with every mode's candidates and evidence collected."""

    dataset: BeirDataset
    collection: str
    collected: list[Collected]
    teacher: str
    description: str


def calibration_settings(settings: Settings) -> Settings:
    """The settings with every chunk item kind generated (a calibration must see what it measures)."""
    return settings.model_copy(update={"synth": settings.synth.model_copy(update={"generate": "all"})})


def open_components(settings: Settings) -> Components:
    """Components with the teacher loaded, generating every item kind."""
    return build_configured(calibration_settings(settings), answers=False, synthesis=True)


def index_sample(args: argparse.Namespace, components: Components, bar: tqdm[Any]) -> tuple[BeirDataset, str]:
    """Load the dataset (or its sample) and index it once, counting documents on ``bar``; (dataset, collection)."""

    def on_progress(_: IngestOutcome) -> None:
        bar.update(1)

    dataset, collection, indexed = prepare_dataset(
        args.dataset,
        args.split,
        store=components.search.store,
        ingestor=components.ingest.ingestor,
        on_progress=on_progress,
        sample_docs=getattr(args, "sample_docs", None),
        seed=getattr(args, "seed", 0),
        max_relevant_share=getattr(args, "max_relevant_share", None),
    )
    if not indexed:
        print(f"reusing index {collection}", file=sys.stderr)
    return dataset, collection


def prepare(args: argparse.Namespace, components: Components, modes: Sequence[SearchMode]) -> SyntheticSample:
    """Index (once), synthesize (once, or the raw top N only) and collect candidates and evidence."""
    settings = components.settings
    top_n = getattr(args, "synth_top_n", None)
    depth = settings.synth.rerank_depth
    if top_n is not None and top_n < 1:
        raise InvalidRequestError("--synth-top-n must be at least 1")
    ingestor, stage = components.ingest.ingestor, components.ingest.ingestor.synthesis
    assert stage is not None  # open_components builds one
    bar = tqdm(unit="doc", file=sys.stderr, desc="indexing", leave=False)

    def on_stage(name: str, done: int, total: int) -> None:
        if name == "synthesis":
            bar.set_description("synthesis")
            bar.unit = "chunk"
            bar.total = total
            bar.n = done
            bar.refresh()

    dataset, collection = index_sample(args, components, bar)
    collected = prepare_synthetic(
        dataset,
        collection=collection,
        store=components.search.store,
        ingestor=ingestor,
        searcher=components.search.searcher,
        modes=modes,
        k=settings.search_k,
        depth=depth,
        top_n=top_n,
        fetch=CHUNK_DEPTH,
        on_stage=on_stage,
    )
    bar.close()
    share = f", relevant <= {args.max_relevant_share:.0%}" if args.max_relevant_share is not None else ""
    scope = f"top-{top_n} chunks synthesized" if top_n is not None else "all chunks synthesized"
    description = (
        f"{args.dataset.name} {args.split}: {len(dataset.corpus)} documents, {len(dataset.queries)} queries"
        f"{share}; {scope}; k={settings.search_k}, re-rank depth {depth}"
    )
    return SyntheticSample(
        dataset=dataset, collection=collection, collected=collected, teacher=stage.teacher, description=description
    )
