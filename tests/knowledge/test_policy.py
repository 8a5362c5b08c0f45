"""The synthesis filter's policy: candidates, grounding and repetition, metadata, duplicates, the round trip."""

from __future__ import annotations

import numpy as np

from kernel.models import PointKind
from kernel.settings import SynthSettings
from knowledge.policy import (
    Candidate,
    candidates,
    filter_key,
    judge_candidate,
    judge_metadata,
    judge_round_trip,
    mark_duplicates,
)
from knowledge.reports import SyntheticItem
from knowledge.schemas import ChunkNotes, DocumentNotes, QAPair

CHUNK = "Aspirin lowered the risk of heart attacks in 20,000 adults over 50 in a randomized trial."
DOCUMENT = CHUNK + " The trial ran from 1998 to 2004 at Harvard Medical School."
CFG = SynthSettings()


def _notes(question: str = "Who took part in the aspirin trial?", answer: str = "20,000 adults") -> ChunkNotes:
    return ChunkNotes(
        keywords=["aspirin", "heart attacks"],
        summary="Aspirin lowered heart attack risk in adults.",
        questions=[QAPair(question=question, answer=answer)],
    )


def _document(**update: object) -> DocumentNotes:
    notes = DocumentNotes(
        title="Aspirin trial",
        type="research article",
        summary="A randomized trial of aspirin against heart attacks.",
        entities=["Harvard Medical School", "Pfizer"],
        dates=["1998", "March 2010"],
    )
    return notes.model_copy(update=update)


def _question(text: str, *, kept: bool = True) -> SyntheticItem:
    return SyntheticItem(kind="question", text=text, chunk_index=0, kept=kept, detail="grounding 1.00 (min 0.60)")


def test_filter_key_is_the_key_of_existing_reports() -> None:
    # Reports in synthetic.db carry this string: a different one for the same settings would redo every document.
    assert filter_key(CFG) == "rep=0.5/g=True:0.6/d=True:0.9/r=True:5"
    changed = SynthSettings(grounding=False, roundtrip_k=3, dedup_max_similarity=0.85)
    assert filter_key(changed) == "rep=0.5/g=False:0.6/d=True:0.85/r=True:3"
    # Settings that do not change what is kept are not part of it.
    assert filter_key(SynthSettings(search=True, weight=0.1, questions=5)) == filter_key(CFG)


def test_candidates_per_chunk_then_the_document_summary() -> None:
    found = candidates([_notes(), None, _notes("What did the trial test?", "aspirin")], _document(), chunk_count=3)
    assert [(c.kind, c.chunk) for c in found] == [
        (PointKind.QUESTION, 0),
        (PointKind.SUMMARY, 0),
        (PointKind.KEYWORDS, 0),
        (PointKind.QUESTION, 2),
        (PointKind.SUMMARY, 2),
        (PointKind.KEYWORDS, 2),
        (PointKind.SUMMARY, 0),
    ]
    assert found[0].answer == "20,000 adults"
    assert found[2].text == "aspirin, heart attacks" and found[2].keywords == ("aspirin", "heart attacks")
    assert found[-1].scope == "document" and found[-1].item_kind == "document_summary"
    assert [c.item_kind for c in found[:3]] == ["question", "summary", "keywords"]
    assert candidates([_notes()], _document(), chunk_count=0)[-1].scope is None  # no chunk to hang it on


def test_question_is_grounded_by_its_answer() -> None:
    grounded = judge_candidate(
        Candidate(PointKind.QUESTION, 0, "Which cohort was enrolled?", answer="20,000 adults"), source=CHUNK, cfg=CFG
    )
    assert grounded.kept and grounded.reason is None and grounded.detail == "grounding 1.00 (min 0.60)"
    assert grounded.kind == "question" and grounded.answer == "20,000 adults" and grounded.chunk_index == 0
    invented = judge_candidate(
        Candidate(PointKind.QUESTION, 1, "What cures migraines?", answer="ibuprofen cures migraines"),
        source=CHUNK,
        cfg=CFG,
    )
    assert not invented.kept and invented.reason == "grounding" and invented.chunk_index == 1
    assert judge_candidate(
        Candidate(PointKind.QUESTION, 1, "What cures migraines?", answer="ibuprofen cures migraines"),
        source=CHUNK,
        cfg=SynthSettings(grounding=False),
    ).kept


def test_keywords_keep_the_grounded_ones_only() -> None:
    mixed = Candidate(PointKind.KEYWORDS, 0, "aspirin, ibuprofen, adults", keywords=("aspirin", "ibuprofen", "adults"))
    item = judge_candidate(mixed, source=CHUNK, cfg=CFG)
    assert item.kept and item.text == "aspirin, adults" and item.detail == "not in the chunk: ibuprofen"
    invented = Candidate(PointKind.KEYWORDS, 0, "ibuprofen, migraine", keywords=("ibuprofen", "migraine"))
    dropped = judge_candidate(invented, source=CHUNK, cfg=CFG)
    assert not dropped.kept and dropped.reason == "grounding" and dropped.text == "ibuprofen, migraine"
    grounded = Candidate(PointKind.KEYWORDS, 0, "aspirin", keywords=("aspirin",))
    assert judge_candidate(grounded, source=CHUNK, cfg=CFG).detail == "all in the chunk"


def test_repetition_overrides_grounding() -> None:
    looping = Candidate(PointKind.SUMMARY, 0, "aspirin aspirin aspirin aspirin aspirin trial")
    item = judge_candidate(looping, source=CHUNK, cfg=CFG)
    assert not item.kept and item.reason == "repetitive" and item.detail == "67% repeated words (max 50%)"
    assert judge_candidate(looping, source=CHUNK, cfg=SynthSettings(repetition_max=0.7)).kept
    looping_answer = Candidate(PointKind.QUESTION, 0, "Who took part?", answer="adults adults adults adults")
    assert judge_candidate(looping_answer, source=CHUNK, cfg=CFG).reason == "repetitive"


def test_document_summary_is_grounded_in_the_document() -> None:
    summary = Candidate(PointKind.SUMMARY, 0, "Harvard Medical School ran the aspirin trial", scope="document")
    item = judge_candidate(summary, source=DOCUMENT, cfg=CFG)
    assert item.kept and item.kind == "document_summary"
    assert not judge_candidate(summary, source=CHUNK, cfg=CFG).kept


def test_metadata_keeps_entities_and_dates_found_in_the_document() -> None:
    metadata, items = judge_metadata(_document(), text=DOCUMENT, cfg=CFG)
    assert metadata == {
        "doc_type": "research article",
        "entities": ["Harvard Medical School"],
        "dates": ["1998"],
        "synthetic_title": "Aspirin trial",
    }
    assert [(i.kind, i.text, i.kept, i.reason) for i in items] == [
        ("entity", "Harvard Medical School", True, None),
        ("entity", "Pfizer", False, "grounding"),
        ("date", "1998", True, None),
        ("date", "March 2010", False, "grounding"),
    ]
    assert items[3].detail == "not found verbatim" and items[2].detail == "found in the document"


def test_metadata_without_grounding_keeps_everything_and_drops_a_looping_title() -> None:
    loop = _document(title="trial trial trial trial")
    metadata, items = judge_metadata(loop, text=DOCUMENT, cfg=SynthSettings(grounding=False))
    assert all(i.kept and i.reason is None for i in items)
    assert metadata["entities"] == ["Harvard Medical School", "Pfizer"] and "synthetic_title" not in metadata
    assert judge_metadata(None, text=DOCUMENT, cfg=CFG) == ({}, [])


def test_duplicates_are_marked_against_the_first_of_their_group() -> None:
    base = np.array([1.0, 0.0, 0.0])
    close = np.array([0.99, 0.141, 0.0])
    close /= np.linalg.norm(close)
    other = np.array([0.0, 1.0, 0.0])
    items = [_question("Who took part?"), _question("Who participated?"), _question("What was tested?")]
    marked = mark_duplicates(items, [base.tolist(), close.tolist(), other.tolist()], max_similarity=0.9)
    assert marked[0] == items[0] and marked[2] == items[2]
    assert not marked[1].kept and marked[1].reason == "duplicate" and marked[1].detail == "repeats: Who took part?"
    assert mark_duplicates(items, [base.tolist(), close.tolist(), other.tolist()], max_similarity=0.999) == items
    assert mark_duplicates([], [], max_similarity=0.9) == []


def test_round_trip_verdict_from_the_rank() -> None:
    item = _question("Who took part?")
    kept = judge_round_trip(item, 2, k=5)
    assert kept.kept and kept.detail == "grounding 1.00 (min 0.60); round-trip rank 2"
    dropped = judge_round_trip(item, None, k=5)
    assert not dropped.kept and dropped.reason == "roundtrip" and dropped.detail == "own chunk not in top 5"


def test_queries_become_query_candidates_grounded_on_their_own_words() -> None:
    from knowledge.schemas import ChunkNotes, QAPair

    source = "Honey bees keep their hive at about 35 degrees Celsius in winter."
    notes = ChunkNotes(
        keywords=["honey bees"],
        summary="Bees keep the hive warm.",
        questions=[QAPair(question="How warm is the hive?", answer="35 degrees Celsius")],
        queries=["honey bees hive winter", "Quantum chromodynamics explains confinement."],
    )
    found = [c for c in candidates([notes], None, chunk_count=1) if c.kind is PointKind.QUERY]
    assert [c.item_kind for c in found] == ["query", "query"]
    verdicts = [judge_candidate(c, source=source, cfg=SynthSettings()) for c in found]
    assert [v.kept for v in verdicts] == [True, False]
    assert verdicts[1].reason == "grounding"
