"""Pure filter functions: repetition, grounding, near-duplicates, round-trip rank."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.filter import content_words, grounding, near_duplicates, repetition, round_trip

CHUNK = "Aspirin lowered the risk of heart attacks in 20,000 adults over 50 in a randomized trial."


def test_content_words_drop_stopwords_and_fold_plurals() -> None:
    assert content_words("The attacks of the hearts") == {"attack", "heart"}


def test_grounded_answer_scores_one_and_invented_answer_scores_low() -> None:
    assert grounding("20,000 adults", CHUNK) == 1.0
    assert grounding("ibuprofen cures migraines", CHUNK) == 0.0
    assert grounding("aspirin cures migraines", CHUNK) == pytest.approx(1 / 3)


def test_claim_without_content_words_is_not_grounded() -> None:
    assert grounding("the of and", CHUNK) == 0.0


def test_repetition_flags_looping_text_only() -> None:
    assert repetition("DNA, DNA, DNA, DNA, DNA, DNA methylation") > 0.5
    assert repetition(CHUNK) < 0.2
    assert repetition("DNA DNA") == 0.0  # too short to judge


def test_near_duplicates_point_at_the_first_kept_item() -> None:
    base = np.array([1.0, 0.0, 0.0])
    close = np.array([0.99, 0.141, 0.0])
    close /= np.linalg.norm(close)
    other = np.array([0.0, 1.0, 0.0])
    twins = near_duplicates([base.tolist(), close.tolist(), other.tolist(), base.tolist()], max_similarity=0.9)
    assert twins == [None, 0, None, 0]
    assert near_duplicates([], max_similarity=0.9) == []


def test_round_trip_rank_within_k() -> None:
    assert round_trip("c2", ["c1", "c2", "c3"], k=2) == 2
    assert round_trip("c3", ["c1", "c2", "c3"], k=2) is None
    assert round_trip("c9", [], k=5) is None
