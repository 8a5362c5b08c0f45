"""An adapted collection built once for the package: the jargon corpus ingested, adapted with the real MiniLM."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adaptation.service import Adapter, AdaptReport
from app.commands.adapt import make_adapter
from app.components import Components, build_components
from kernel.settings import Settings
from retrieval.embedding import SentenceTransformerEmbedder
from tests.adaptation import corpus

COLLECTION = "jargon"
#: Enough passes for ~150 short pairs to teach eight code words, in about a minute on 2 cores.
TEST_ADAPT = {"epochs": 5, "learning_rate": 1.5e-4, "batch_size": 16, "min_pairs": 10, "seed": 3}


def adapt_settings(data_dir: Path, **adapt: object) -> Settings:
    return Settings(data_dir=data_dir, adapt={**TEST_ADAPT, **adapt}, search_mode="hybrid")


@dataclass
class Adapted:
    settings: Settings
    components: Components
    adapter: Adapter
    report: AdaptReport


def ingest_corpus(components: Components) -> None:
    outcomes = components.ingest.ingestor.ingest(corpus.items(), collection=COLLECTION, synthesize=False)
    assert all(o.status == "indexed" for o in outcomes)


@pytest.fixture(scope="package")
def adapted(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Iterator[Adapted]:
    settings = adapt_settings(tmp_path_factory.mktemp("adapted") / "data")
    components = build_components(settings, embedder=embedder)
    ingest_corpus(components)
    adapter = make_adapter(components, settings)
    report = adapter.adapt(COLLECTION, corpus.queries())
    yield Adapted(settings, components, adapter, report)
    components.close()
