"""Write a tiny BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``) for tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

#: One sentence per topic; test corpora repeat and slice them.
TOPICS = {
    "bees": "Honey bee colonies store nectar as honey in wax combs and the workers guard the hive entrance.",
    "volcano": "Volcanic eruptions send lava flows and ash clouds over the slopes around the crater rim.",
    "chess": "Chess openings develop the knights and bishops early and fight for the centre of the board.",
    "bread": "Sourdough bread rises with wild yeast and lactic bacteria kept alive in a flour starter.",
}


def write_beir(
    root: Path,
    corpus: Iterable[Mapping[str, str]],
    queries: Iterable[Mapping[str, str]],
    qrels: Iterable[tuple[str, str, int]],
    *,
    split: str = "train",
) -> Path:
    """``root`` made a BEIR folder: documents (``_id``, ``title``, ``text``), queries (``_id``, ``text``), judgments."""
    root.mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(dict(d)) + "\n" for d in corpus))
    (root / "queries.jsonl").write_text("".join(json.dumps(dict(q)) + "\n" for q in queries))
    (root / "qrels").mkdir()
    rows = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{grade}" for q, d, grade in qrels)]
    (root / "qrels" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return root
