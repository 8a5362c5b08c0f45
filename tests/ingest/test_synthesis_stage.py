"""The synthesis stage's wiring on real parts (embedder, embedded store, searcher) with a scripted teacher.

The injected round-trip search and BM25 average length (from the SQLite counters when built), dedup before the round trip, and what is
stored. The real teacher end to end is tests/ingest/test_synthesis.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.components import Components
from ingest.bm25_stats import Bm25Stats
from ingest.pipeline import IngestItem, Ingestor
from ingest.synthesis import SynthesisStage
from ingest.synthesis.build import build_synthesis_stage, chunk_search
from kernel import payload as P
from kernel.models import (
    SYNTHETIC_KINDS,
    ChatMessage,
    Completion,
    Document,
    GenerationParams,
    PointKind,
    SearchFilters,
    SearchMode,
    Section,
)
from kernel.ports import ChatStream
from kernel.settings import SynthSettings
from kernel.tenancy import synthetic_collection
from knowledge.cache import GenerationCache
from knowledge.generate import TeacherGenerator
from tests.fixtures_docs import CHESS, LIGHTHOUSES
from tests.retrieval.conftest import store_query

TEXT = (
    "Honey bees keep their hive at about 35 degrees Celsius. Worker bees fan their wings to cool the brood in summer."
)
QUESTION = "At what temperature do bees keep the hive?"
CHUNK_REPLY = {
    "keywords": ["honey bees", "hive", "unicorn"],
    "summary": "Honey bees keep the hive at 35 degrees Celsius.",
    # The same question twice: the second is a duplicate and must not cost a search.
    "questions": [
        {"question": QUESTION, "answer": "about 35 degrees Celsius"},
        {"question": QUESTION, "answer": "35 degrees Celsius"},
    ],
}
DOCUMENT_REPLY = {
    "title": "Bees",
    "type": "notes",
    "summary": "Honey bees keep their hive warm.",
    "entities": ["Worker bees"],
    "dates": [],
}


class ScriptedTeacher:
    """A ChatModel replying with fixed, valid notes (chunk or document, by the schema asked for)."""

    model_id = "scripted-teacher"

    def complete(
        self, messages: Sequence[ChatMessage], *, params: GenerationParams, schema: dict[str, Any] | None = None
    ) -> Completion:
        wants_chunk = "questions" in (schema or {}).get("required", [])
        return Completion(text=json.dumps(CHUNK_REPLY if wants_chunk else DOCUMENT_REPLY))

    def stream(self, messages: Sequence[ChatMessage], *, params: GenerationParams) -> ChatStream:
        raise AssertionError("synthesis does not stream")


def _item(name: str, text: str) -> IngestItem:
    doc = Document(source=name, format="txt", title=name, text=text, sections=[Section(start=0, end=len(text))])
    return IngestItem(document=doc, source_key=name)


def _ingestor(components: Components, stage: SynthesisStage | None) -> Ingestor:
    return Ingestor(
        store=components.search.store,
        collections=components.search.store,
        bm25=Bm25Stats(components.ingest.db),
        embedder=components.search.embedder,
        sparse=components.search.sparse,
        chunk_max_tokens=components.settings.chunk_max_tokens,
        chunk_overlap_tokens=components.settings.chunk_overlap_tokens,
        synthesis=stage,
    )


def _synthetic_points(components: Components, collection: str, document_id: str) -> list[Any]:
    query = store_query(
        SearchMode.DENSE,
        limit=100,
        dense=components.search.embedder.embed(["anything"])[0],
        filters=SearchFilters(document_ids=[document_id], kinds=list(SYNTHETIC_KINDS)),
    )
    return list(components.search.store.query(synthetic_collection(collection), query))


def test_round_trip_uses_the_injected_search_and_drops_a_question_it_misses(
    components: Components, tmp_path: Path
) -> None:
    searches: list[tuple[str, str, int, int]] = []
    lengths: list[str] = []

    def search(collection: str, question: str, vector: list[float], k: int) -> list[str]:
        searches.append((collection, question, len(vector), k))
        return []

    def add_lengths(collection: str, counted: Sequence[int]) -> float:
        lengths.append(collection)
        return 42.0

    stage = SynthesisStage(
        store=components.search.store,
        embedder=components.search.embedder,
        sparse=components.search.sparse,
        generator=TeacherGenerator(ScriptedTeacher(), GenerationCache.open(tmp_path / "cache"), questions=2),
        reports=components.ingest.reports,
        settings=SynthSettings(roundtrip_k=3, generate="all"),
        search=search,
        add_lengths=add_lengths,
    )
    [outcome] = _ingestor(components, stage).ingest([_item("bees.txt", TEXT)], collection="c")
    assert outcome.status == "indexed" and outcome.document_id is not None and outcome.synthetic is not None
    assert searches == [("c", QUESTION, components.search.embedder.dim, 3)]  # the duplicate was never searched
    assert lengths == [synthetic_collection("c")]  # the companion's own BM25 counters

    report = components.ingest.reports.get("c", outcome.document_id)
    assert report is not None
    by_kind = {(i.kind, i.reason) for i in report.items}
    assert ("question", "roundtrip") in by_kind and ("question", "duplicate") in by_kind
    [keywords] = [i for i in report.items if i.kind == "keywords"]
    assert keywords.kept and keywords.text == "honey bees, hive" and keywords.detail == "not in the chunk: unicorn"
    assert outcome.synthetic.dropped["roundtrip"] == 1 and outcome.synthetic.dropped["duplicate"] == 1

    stored = _synthetic_points(components, "c", outcome.document_id)
    assert sorted(p.payload[P.KIND] for p in stored) == ["expansion", "keywords", "summary", "summary"]
    [expansion] = [p for p in stored if p.payload[P.KIND] == "expansion"]
    assert expansion.payload[P.TEXT] == "honey bees, hive"  # the kept keywords' words (the question was dropped)
    assert all(p.payload[P.METADATA]["entities"] == ["Worker bees"] for p in stored)


def test_built_stage_keeps_a_question_that_retrieves_its_own_chunk(components: Components) -> None:
    others = [_item("chess.txt", "\n\n".join(CHESS)), _item("lights.txt", "\n\n".join(LIGHTHOUSES))]
    done = _ingestor(components, None).ingest(others, collection="c")
    every_kind = components.settings.synth.model_copy(update={"generate": "all"})
    stage = build_synthesis_stage(
        components.settings.model_copy(update={"synth": every_kind}),
        store=components.search.store,
        bm25=Bm25Stats(components.ingest.db),
        embedder=components.search.embedder,
        sparse=components.search.sparse,
        teacher=ScriptedTeacher(),
    )
    [outcome] = _ingestor(components, stage).ingest([_item("bees.txt", TEXT)], collection="c")
    assert outcome.document_id is not None
    report = components.ingest.reports.get("c", outcome.document_id)
    assert report is not None
    questions = [i for i in report.items if i.kind == "question"]
    assert [(q.kept, q.reason) for q in questions] == [(True, None), (False, "duplicate")]
    assert questions[0].detail is not None and questions[0].detail.endswith("; round-trip rank 1")
    stored = {p.payload[P.KIND]: p for p in _synthetic_points(components, "c", outcome.document_id)}
    assert stored["question"].payload[P.TEXT] == QUESTION
    assert stored["question"].payload[P.ANSWER] == "about 35 degrees Celsius"

    # The round trip's search ranks chunks only, though the stored question matches itself best.
    [chunk_id] = components.search.store.document_point_ids("c", outcome.document_id, kinds=[PointKind.CHUNK])
    ranked = chunk_search(components.search.searcher)("c", QUESTION, components.search.embedder.embed([QUESTION])[0], 3)
    assert ranked[0] == chunk_id and len(ranked) == 3
    chunks = set().union(
        *(
            components.search.store.document_point_ids("c", o.document_id or "", kinds=[PointKind.CHUNK])
            for o in [*done, outcome]
        )
    )
    assert set(ranked) <= chunks
    assert (
        chunk_search(components.search.searcher)("c", "   ", components.search.embedder.embed([QUESTION])[0], 3) == []
    )
