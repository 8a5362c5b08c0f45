"""Training queries and triples: pure logic over passages (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaptation.mining import mine_triples
from adaptation.pairs import Passage, TrainingQuery, deduplicated, from_jsonl, from_qrels, split_queries
from kernel.adapt_settings import AdaptSettings
from kernel.errors import InvalidRequestError

PASSAGES = {f"p{i}": Passage(f"p{i}", f"d{i // 2}", f"doc{i // 2}.txt", f"text of chunk {i}") for i in range(10)}


def test_from_qrels_keeps_judged_queries_whose_documents_are_stored() -> None:
    queries = {"q1": "first", "q2": "second", "q3": "  "}
    qrels = {"q1": {"doc1.txt": 1, "doc9.txt": 1}, "q2": {"doc9.txt": 1}, "q3": {"doc2.txt": 1}}
    found = from_qrels(queries, qrels, PASSAGES)
    assert found == [TrainingQuery(text="first", sources=frozenset({"doc1.txt"}), origin="labelled")]


def test_from_jsonl_reads_sources_and_chunk_ids(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    lines = [{"question": "where?", "source": "doc2.txt"}, {}, {"question": "which?", "chunk_id": "p7"}]
    path.write_text("\n".join(json.dumps(x) if x else "" for x in lines), encoding="utf-8")
    found = from_jsonl(path, PASSAGES)
    assert [q.sources for q in found] == [frozenset({"doc2.txt"}), frozenset()]
    assert found[1].chunks == frozenset({"p7"})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not JSON"),
        ('{"source": "doc1.txt"}', "question"),
        ('{"question": "q", "source": "nowhere.txt"}', "nowhere.txt"),
        ('{"question": "q"}', "source"),
    ],
)
def test_from_jsonl_names_the_bad_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"question": "ok", "source": "doc1.txt"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InvalidRequestError, match=rf"pairs.jsonl:2: .*{message}"):
        from_jsonl(path, PASSAGES)


def test_split_is_seeded_and_per_origin() -> None:
    queries = [TrainingQuery(text=f"l{i}", sources=frozenset({"doc1.txt"}), origin="labelled") for i in range(10)]
    queries += [TrainingQuery(text=f"s{i}", chunks=frozenset({"p1"}), origin="synthetic") for i in range(5)]
    train, held = split_queries(queries, held_apart=0.2, seed=1)
    assert sum(q.origin == "labelled" for q in held) == 2 and sum(q.origin == "synthetic" for q in held) == 1
    assert len(train) == 12 and not {q.text for q in train} & {q.text for q in held}
    assert split_queries(list(reversed(queries)), held_apart=0.2, seed=1) == (train, held)


def test_deduplicated_prefers_labelled() -> None:
    synthetic = TrainingQuery(text="Same", chunks=frozenset({"p1"}), origin="synthetic")
    labelled = TrainingQuery(text="same", sources=frozenset({"doc3.txt"}), origin="labelled")
    assert deduplicated([synthetic, labelled]) == [labelled]


def test_triples_take_the_best_ranked_positive_and_a_negative_below_the_top() -> None:
    query = TrainingQuery(text="q", sources=frozenset({"doc2.txt"}), origin="labelled")  # chunks p4, p5
    ranking = ["p0", "p5", "p1", "p4", "p2", "p3"]
    params = AdaptSettings(seed=0)
    [triple] = mine_triples([query], PASSAGES, ranking=lambda _text: ranking, params=params)
    assert triple.positive == "text of chunk 5"
    # Below the first two places and from no relevant document: p1, p2, p3.
    assert triple.negative in {"text of chunk 1", "text of chunk 2", "text of chunk 3"}
    [plain] = mine_triples([query], PASSAGES, ranking=lambda _t: ranking, params=AdaptSettings(hard_negatives=False))
    assert plain.negative is None


def test_chunk_queries_keep_their_chunk_and_unranked_documents_fall_back() -> None:
    chunk_query = TrainingQuery(text="q", chunks=frozenset({"p8"}), origin="synthetic")
    unranked = TrainingQuery(text="r", sources=frozenset({"doc3.txt"}), origin="labelled")
    triples = mine_triples([chunk_query, unranked], PASSAGES, ranking=lambda _t: ["p0"], params=AdaptSettings())
    assert [t.positive for t in triples] == ["text of chunk 8", "text of chunk 6"]
    assert all(t.negative is None for t in triples)  # nothing ranked below the top 2
