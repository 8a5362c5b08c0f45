"""Tests for ingest.chunking: token bounds with the real tokenizer, exact offsets, structure, overlap."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunking import chunk_document
from ingest.parse import parse_document
from kernel.models import Chunk, Document, Section
from tests.fixtures_docs import make_markdown, make_pdf

CountTokens = Callable[[Sequence[str]], list[int]]

SENTENCES = [
    "The keeper climbed the spiral stairs at dusk to light the great lamp.",
    "Fresnel lenses bent the beam into a narrow band that reached far out to sea.",
    "Storms battered the tower, yet the light never failed during the long winter.",
    "Ships rounding the headland relied on its signature flash pattern every night.",
    "Automation arrived in the twentieth century and the keepers slowly left.",
    "Today many lighthouses are museums, and visitors climb the same worn steps.",
]


def prose(n_sentences: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(SENTENCES) for _ in range(n_sentences))


def text_doc(text: str, sections: list[Section] | None = None) -> Document:
    return Document(source="t.txt", format="txt", title="t", text=text, sections=sections or [])


def chunk(doc: Document, count: CountTokens, max_tokens: int, overlap: int) -> list[Chunk]:
    return chunk_document(doc, document_id="doc-1", count_tokens=count, max_tokens=max_tokens, overlap_tokens=overlap)


def assert_valid(doc: Document, chunks: list[Chunk], count: CountTokens, max_tokens: int) -> None:
    """Every promise of chunk_document that does not depend on the input's structure."""
    text = doc.text
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(c.document_id == "doc-1" for c in chunks)
    assert [c.n_tokens for c in chunks] == count([c.text for c in chunks])
    for c in chunks:
        assert c.n_tokens <= max_tokens
        assert c.text == text[c.start : c.end]
        assert c.text and c.text == c.text.strip()
        # Never cut a word: the characters just outside a chunk are whitespace or the text's ends.
        assert c.start == 0 or text[c.start - 1].isspace()
        assert c.end == len(text) or text[c.end].isspace()
    for a, b in itertools.pairwise(chunks):
        assert a.start < b.start and a.end < b.end
    # Together the chunks cover every word of the document.
    covered = [False] * len(text)
    for c in chunks:
        covered[c.start : c.end] = [True] * (c.end - c.start)
    assert all(flag or ch.isspace() for flag, ch in zip(covered, text, strict=True))


def overlap_words(a: Chunk, b: Chunk, text: str) -> list[str]:
    return text[b.start : a.end].split() if b.start < a.end else []


# --- basics -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\n  "])
def test_blank_document_has_no_chunks(text: str, whitespace_count: CountTokens) -> None:
    assert chunk(text_doc(text), whitespace_count, 10, 2) == []


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_rejects_impossible_limits(max_tokens: int, overlap: int, whitespace_count: CountTokens) -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk(text_doc("some words"), whitespace_count, max_tokens, overlap)


def test_short_document_is_one_chunk(count_tokens: CountTokens) -> None:
    doc = parse_document(b"  One short paragraph.\n\nAnd another.  ", "s.txt")
    chunks = chunk(doc, count_tokens, 64, 8)
    assert len(chunks) == 1
    assert chunks[0].text == "One short paragraph.\n\nAnd another."
    assert (chunks[0].start, chunks[0].end) == (0, len(doc.text))


@pytest.mark.parametrize(("max_tokens", "overlap"), [(32, 0), (48, 8), (128, 32), (256, 64)])
def test_sample_files_chunk_within_bounds(
    sample_files: dict[str, Path], count_tokens: CountTokens, max_tokens: int, overlap: int
) -> None:
    assert set(sample_files) == {".txt", ".md", ".html", ".pdf", ".docx"}
    for path in sample_files.values():
        doc = parse_document(path.read_bytes(), path.name)
        chunks = chunk(doc, count_tokens, max_tokens, overlap)
        assert chunks, path.name
        assert_valid(doc, chunks, count_tokens, max_tokens)


def test_is_deterministic(count_tokens: CountTokens) -> None:
    doc = parse_document(("\n\n".join(prose(9, seed) for seed in range(6))).encode(), "d.txt")
    first = chunk(doc, count_tokens, 40, 10)
    assert first == chunk(doc, count_tokens, 40, 10)
    assert len(first) > 3


def test_document_without_sections_is_chunked_as_one_block(count_tokens: CountTokens) -> None:
    doc = text_doc(prose(20))
    chunks = chunk(doc, count_tokens, 50, 10)
    assert_valid(doc, chunks, count_tokens, 50)
    assert all(c.heading is None and c.page is None for c in chunks)


# --- structure ----------------------------------------------------------------------------------


def test_whole_paragraphs_are_packed_together(count_tokens: CountTokens) -> None:
    paragraphs = [prose(2, seed) for seed in range(8)]  # ~30 tokens each
    doc = parse_document("\n\n".join(paragraphs).encode(), "p.txt")
    chunks = chunk(doc, count_tokens, 100, 0)
    assert_valid(doc, chunks, count_tokens, 100)
    assert 1 < len(chunks) < len(paragraphs)
    for c in chunks:
        # Each chunk is a run of whole paragraphs: it starts and ends on paragraph edges.
        assert c.text.split("\n\n")[0] in paragraphs and c.text.split("\n\n")[-1] in paragraphs


def test_each_heading_starts_a_new_chunk(count_tokens: CountTokens) -> None:
    sections = [
        ("Origins", [prose(2, 1)]),
        ("Lenses", [prose(2, 2)]),
        ("Keepers", [prose(2, 3), prose(1, 4)]),
    ]
    doc = parse_document(make_markdown(sections), "h.md")
    chunks = chunk(doc, count_tokens, 200, 20)
    assert_valid(doc, chunks, count_tokens, 200)
    assert [(c.heading, c.text.split("\n\n")[0]) for c in chunks] == [
        ("Origins", "Origins"),
        ("Lenses", "Lenses"),
        ("Keepers", "Keepers"),
    ]


def test_heading_stays_with_the_text_below_it(count_tokens: CountTokens) -> None:
    doc = parse_document(make_markdown([("Title", []), ("Part one", [prose(12, 5)])]), "h.md")
    chunks = chunk(doc, count_tokens, 60, 10)
    assert_valid(doc, chunks, count_tokens, 60)
    assert chunks[0].text.startswith("Title\n\nPart one\n\n")
    assert chunks[0].heading == "Title"
    assert all(c.heading == "Part one" for c in chunks[1:])
    assert len(chunks[0].text.split()) > 10  # not a chunk of headings alone


def test_no_overlap_across_headings(count_tokens: CountTokens) -> None:
    doc = parse_document(make_markdown([("A", [prose(10, 1)]), ("B", [prose(10, 2)])]), "h.md")
    chunks = chunk(doc, count_tokens, 64, 16)
    assert_valid(doc, chunks, count_tokens, 64)
    first_b = next(i for i, c in enumerate(chunks) if c.text.startswith("B\n\n"))
    assert chunks[first_b].start > chunks[first_b - 1].end
    assert all(c.heading == "B" for c in chunks[first_b:])


def test_pages_come_from_where_each_chunk_starts(count_tokens: CountTokens) -> None:
    doc = parse_document(make_pdf([prose(12, 1), prose(12, 2), prose(12, 3)]), "book.pdf")
    chunks = chunk(doc, count_tokens, 60, 12)
    assert_valid(doc, chunks, count_tokens, 60)
    for c in chunks:
        section = next(s for s in doc.sections if s.start <= c.start < s.end)
        assert c.page == section.page
    assert {c.page for c in chunks} == {1, 2, 3}


# --- splitting and overlap ----------------------------------------------------------------------


def test_long_paragraph_splits_at_sentences(count_tokens: CountTokens) -> None:
    doc = parse_document(prose(30).encode(), "long.txt")
    chunks = chunk(doc, count_tokens, 64, 0)
    assert_valid(doc, chunks, count_tokens, 64)
    assert len(chunks) > 5
    assert all(c.text.endswith(".") for c in chunks)
    assert all(c.text[0].isupper() for c in chunks)
    assert all(c.n_tokens > 40 for c in chunks[:-1])  # packed, not one sentence each


def test_consecutive_chunks_overlap_by_about_the_requested_tokens(count_tokens: CountTokens) -> None:
    doc = parse_document(prose(40).encode(), "long.txt")
    overlap = 16
    chunks = chunk(doc, count_tokens, 80, overlap)
    assert_valid(doc, chunks, count_tokens, 80)
    for a, b in itertools.pairwise(chunks):
        shared = doc.text[b.start : a.end]
        assert b.start < a.end, "consecutive chunks must overlap"
        assert overlap / 2 <= count_tokens([shared])[0] <= overlap + 2
        assert a.text.endswith(shared) and b.text.startswith(shared)


def test_overlap_prefers_sentence_starts(count_tokens: CountTokens) -> None:
    doc = parse_document(prose(40).encode(), "long.txt")
    chunks = chunk(doc, count_tokens, 80, 30)
    starts_on_sentence = sum(doc.text[c.start - 2 : c.start] == ". " for c in chunks[1:])
    assert starts_on_sentence >= len(chunks[1:]) * 0.8


def test_sentence_without_punctuation_splits_between_words(count_tokens: CountTokens) -> None:
    words = " ".join(f"word{i} lighthouse" for i in range(300))
    doc = parse_document(words.encode(), "run-on.txt")
    chunks = chunk(doc, count_tokens, 50, 10)
    assert_valid(doc, chunks, count_tokens, 50)
    assert all(c.n_tokens >= 40 for c in chunks[:-1])
    assert all(overlap_words(a, b, doc.text) for a, b in itertools.pairwise(chunks))


def test_giant_word_is_cut_only_because_it_must_be(count_tokens: CountTokens) -> None:
    blob = "x-" * 400  # one whitespace-free "word" of 800 word pieces
    doc = parse_document(f"Before the blob. {blob} After the blob.".encode(), "blob.txt")
    chunks = chunk(doc, count_tokens, 64, 8)
    assert all(c.n_tokens <= 64 for c in chunks)
    assert all(c.text == doc.text[c.start : c.end] for c in chunks)
    assert "".join(c.text for c in chunks if "x-" in c.text).count("x") >= 400


def test_non_additive_counter_still_respects_the_limit() -> None:
    # A counter that charges for paragraph joins (WordPiece does not) makes the packing sums too
    # low; the final check must trim overlaps and split chunks until every one fits.
    def count(texts: Sequence[str]) -> list[int]:
        return [len(t.split()) + 5 * t.count("\n\n") for t in texts]

    doc = parse_document("\n\n".join(prose(1, s) for s in range(40)).encode(), "p.txt")
    for overlap in (0, 12):
        chunks = chunk(doc, count, 60, overlap)
        assert_valid(doc, chunks, count, 60)
        assert max(c.n_tokens for c in chunks) > 45


def test_overlap_estimate_that_runs_long_is_trimmed_to_fit() -> None:
    # Overlap size is estimated at the paragraph's average tokens per word; a paragraph whose
    # last words are much longer than its first ones makes that estimate too low.
    def count(texts: Sequence[str]) -> list[int]:
        return [sum(1 + len(w) // 4 for w in t.split()) for t in texts]

    paragraph = "a b c d e f g h i j k l m n o p " + "extraordinarily " * 6
    doc = parse_document("\n\n".join([paragraph.strip()] * 12).encode(), "p.txt")
    chunks = chunk(doc, count, 60, 20)
    assert_valid(doc, chunks, count, 60)
    assert all(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_tokenizer_is_called_in_a_few_batches(count_tokens: CountTokens) -> None:
    calls: list[int] = []

    def spy(texts: Sequence[str]) -> list[int]:
        calls.append(len(texts))
        return count_tokens(texts)

    doc = parse_document(("\n\n".join(prose(8, seed) for seed in range(20))).encode(), "many.txt")
    chunks = chunk(doc, spy, 64, 16)
    assert len(chunks) > 10
    assert len(calls) <= 4
    assert max(calls) > 10


# --- properties and speed -----------------------------------------------------------------------

WORDS = st.sampled_from(["a", "bee", "hive", "honey.", "Queen!", "wax,", "drone?", "x" * 30, "\u00e9t\u00e9", "1822"])
TEXTS = st.lists(
    st.tuples(st.lists(WORDS, min_size=1, max_size=40), st.sampled_from([" ", "\n", "\n\n", "\n\n\n  "])),
    min_size=1,
    max_size=12,
).map(lambda parts: "".join(" ".join(words) + sep for words, sep in parts))


@settings(max_examples=150, deadline=None)
@given(text=TEXTS, max_tokens=st.integers(3, 40), overlap_ratio=st.floats(0, 0.9))
def test_invariants_hold_for_any_text(text: str, max_tokens: int, overlap_ratio: float) -> None:
    def count(texts: Sequence[str]) -> list[int]:
        return [len(t.split()) + sum(len(w) // 12 for w in t.split()) for t in texts]

    doc = parse_document(text.encode(), "p.txt")
    chunks = chunk(doc, count, max_tokens, int(max_tokens * overlap_ratio))
    assert chunks
    assert_valid(doc, chunks, count, max_tokens)
    assert chunks == chunk(doc, count, max_tokens, int(max_tokens * overlap_ratio))


@pytest.mark.slow
def test_a_thousand_abstracts_chunk_quickly(count_tokens: CountTokens) -> None:
    docs = [parse_document(prose(12, seed).encode(), f"a{seed}.txt") for seed in range(1000)]
    began = time.perf_counter()
    total = sum(len(chunk(doc, count_tokens, 128, 16)) for doc in docs)
    elapsed = time.perf_counter() - began
    assert total >= 1000
    # 5,000 abstracts must take well under a minute; this is a fifth of that with lots of slack.
    assert elapsed < 10, f"{elapsed:.1f}s"
