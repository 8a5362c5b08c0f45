"""prepare_dataset's sample options: the share reaches the sampler and names its own collection."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from app.cli import build_parser
from evaluation.beir import BeirDataset
from evaluation.runner import prepare_dataset
from ingest.pipeline import IngestItem, Ingestor, IngestOutcome
from kernel.errors import InvalidRequestError
from kernel.ports import CollectionAdmin
from kernel.tenancy import CollectionName


class _Store:
    """Only the metadata calls ``prepare_dataset`` makes, so that nothing counts as indexed yet."""

    def get_metadata(self, collection: str) -> dict[str, str]:
        return {}

    def set_metadata(self, collection: str, metadata: dict[str, str]) -> None:
        pass

    def optimize(self, collection: str) -> None:
        pass


class _Ingestor:
    config_key = "fake"

    def __init__(self) -> None:
        self.ingested: dict[str, list[IngestItem]] = {}

    def prepare(self, collection: str) -> None:
        pass

    def ingest(
        self,
        items: object,
        *,
        collection: str,
        on_progress: Callable[[IngestOutcome], None] | None = None,
        synthesize: bool = False,
    ) -> None:
        self.ingested[collection] = list(cast("list[IngestItem]", items))


def _beir_folder(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    with (root / "corpus.jsonl").open("w") as out:
        for i in range(40):
            out.write(json.dumps({"_id": f"d{i}", "title": "", "text": f"text {i}"}) + "\n")
    with (root / "queries.jsonl").open("w") as out:
        for i in range(10):
            out.write(json.dumps({"_id": f"q{i}", "text": f"query {i}"}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"] + [f"q{i}\td{j}\t1" for i in range(10) for j in (2 * i, 2 * i + 1)]
    (root / "qrels" / "train.tsv").write_text("\n".join(rows) + "\n")
    return root


def _prepare(folder: Path, share: float | None) -> tuple[BeirDataset, str]:
    ingestor = _Ingestor()
    dataset, collection, indexed = prepare_dataset(
        folder,
        "train",
        store=cast(CollectionAdmin, _Store()),
        ingestor=cast(Ingestor, ingestor),
        sample_docs=10,
        seed=3,
        max_relevant_share=share,
    )
    assert indexed and list(ingestor.ingested) == [collection]
    assert len(ingestor.ingested[collection]) == len(dataset.corpus) == 10
    return dataset, collection


def test_share_reaches_the_sample_and_names_its_own_collection(tmp_path: Path) -> None:
    folder = _beir_folder(tmp_path / "tiny")
    plain, plain_name = _prepare(folder, None)
    capped, capped_name = _prepare(folder, 0.25)
    assert plain_name.endswith("-s10-3")  # unchanged without the flag
    assert capped_name == plain_name + "-r0_25"
    CollectionName(capped_name)  # a valid collection name
    assert len(capped.queries) == 1  # floor(10 * 0.25) = 2 relevant documents: one query of two
    assert len(plain.queries) == 4  # the default 80% share: 8 relevant documents


def test_share_without_a_sample_is_an_error(tmp_path: Path) -> None:
    folder = _beir_folder(tmp_path / "tiny")
    with pytest.raises(InvalidRequestError, match="needs --sample-docs"):
        prepare_dataset(
            folder,
            "train",
            store=cast(CollectionAdmin, _Store()),
            ingestor=cast(Ingestor, _Ingestor()),
            max_relevant_share=0.5,
        )


def test_cli_parses_max_relevant_share() -> None:
    args = build_parser().parse_args(["eval", "--dataset", "d", "--split", "s", "--max-relevant-share", "0.3"])
    assert args.max_relevant_share == 0.3
    assert build_parser().parse_args(["eval", "--dataset", "d", "--split", "s"]).max_relevant_share is None
