"""The loop detector: repeated and near-repeated sentences, repeated word runs, legit lists left alone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from answer.repetition import LoopDetector, find_repetition
from answer.sentences import plain, sentences

LOOP = (
    "1. Bees are the primary source of food for beekeepers.\n"
    "2. Bees are responsible for the production of honey.\n"
    "3. Bees are responsible for the production of honey.\n"
    "4. Bees are responsible for the production of honey.\n"
)
WRAPPED = "In 1822 Fresnel designed a lens that made beams\nvisible far out at sea.\nLighthouse history\nKeepers trimmed wicks."
LEGIT_LISTS = [
    "1. The Sicilian Defence answers 1.e4 with c5 [1].\n2. The French Defence answers 1.e4 with e6 [1].\n"
    "3. The Caro-Kann Defence answers 1.e4 with c6 [1].",
    "Shield volcanoes erupt runny basalt lava [1]. Stratovolcanoes alternate layers of ash and viscous lava [1]. "
    "A pyroclastic flow is a fast avalanche of hot gas and volcanic ash [2].",
    "- Feed the starter twice a day.\n- Mix the flour and water.\n- Feed the starter once a day in winter.\n"
    "- Bake the loaf in a hot oven.",
    "The queen lays eggs. The workers forage. The drones mate. Yes. Yes. The honey is capped with wax.",
]


def test_a_repeated_sentence_is_cut_before_it_starts() -> None:
    repeat = find_repetition(LOOP)
    assert repeat is not None and repeat.kind == "sentence"
    kept = LOOP[: repeat.cut]
    assert (
        kept
        == "1. Bees are the primary source of food for beekeepers.\n2. Bees are responsible for the production of honey."
    )
    assert "3." not in kept


def test_markers_and_case_do_not_hide_a_repeat() -> None:
    text = "Honey is harvested in late summer [1]. The extractor spins. HONEY is harvested, in late summer [2]!"
    repeat = find_repetition(text)
    assert repeat is not None and repeat.kind == "sentence"
    assert text[: repeat.cut] == "Honey is harvested in late summer [1]. The extractor spins."


def test_a_near_equal_sentence_counts() -> None:
    text = (
        "The Pharos of Alexandria was one of the Seven Wonders of the ancient world and guided ships home. "
        "Fresnel designed a lens. "
        "The Pharos of Alexandria was one of the Seven Wonders of the old world and guided ships home."
    )
    repeat = find_repetition(text)
    assert repeat is not None and repeat.kind in ("near-sentence", "ngram")
    assert text[: repeat.cut].endswith("Fresnel designed a lens.")


def test_a_long_repeated_word_run_counts_even_without_sentence_ends() -> None:
    text = "the game of chess is played by two players on a board and " * 3
    repeat = find_repetition(text)
    assert repeat is not None and repeat.kind == "ngram"
    assert repeat.cut == 0  # one endless sentence: nothing of it is kept


def test_a_run_across_sentences_cuts_at_the_sentence_holding_its_end() -> None:
    first = "It was built with wood and stone near the harbour of the city. "
    text = first + "People say it was built with wood and stone near the harbour of the city walls."
    repeat = find_repetition(text)
    assert repeat is not None and repeat.kind in ("ngram", "near-sentence")
    assert text[: repeat.cut] == first.strip()


def test_legit_lists_pass() -> None:
    for text in LEGIT_LISTS:
        assert find_repetition(text) is None, text


def test_an_unfinished_last_sentence_repeating_an_earlier_one_is_cut() -> None:
    text = "The queen lays the eggs of the whole colony. Workers forage. The queen lays the eggs of the whole"
    repeat = find_repetition(text)
    assert repeat is not None
    assert text[: repeat.cut] == "The queen lays the eggs of the whole colony. Workers forage."


def test_checked_text_stops_at_the_unfinished_sentence() -> None:
    detector = LoopDetector()
    assert detector.feed("Bees make honey. They sw") is None
    assert detector.text[: detector.checked] == "Bees make honey."
    assert detector.feed("arm in May. ") is None
    assert detector.text[: detector.checked] == "Bees make honey. They swarm in May."
    assert detector.finish() is None and detector.checked == len(detector.text)


def test_numbers_with_points_do_not_end_sentences() -> None:
    spans = list(sentences("Play 1.e4 then 2.Nf3. It costs 3.5 million.\n2. Next item here."))
    assert len(spans) == 3
    assert plain("2. Next item [1, 2] here.") == "Next item here."


def test_a_wrapped_line_goes_on_but_a_new_line_starts_a_sentence() -> None:
    text = WRAPPED
    assert [text[s.start : s.end].strip() for s in sentences(text)] == [
        "In 1822 Fresnel designed a lens that made beams\nvisible far out at sea.",
        "Lighthouse history",
        "Keepers trimmed wicks.",
    ]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_stream_cuts_where_the_whole_text_does(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from([LOOP, WRAPPED, *LEGIT_LISTS, "Bees swarm. " * 3, "a b c d e f g h i j " * 2]))
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=len(text) - 1), max_size=30)))
    detector = LoopDetector()
    for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
        if detector.feed(text[start:end]) is not None:
            break
    streamed = detector.finish()
    whole = find_repetition(text)
    assert (streamed and streamed.cut) == (whole and whole.cut)


def test_a_short_sentence_said_again_is_a_loop_but_a_one_word_one_is_not() -> None:
    text = "1. Snowflake Inc [1]. - CFO [1]\n2. Snowflake Inc [1]. - CFO [1]"
    repeat = find_repetition(text)
    assert repeat is not None and repeat.kind == "sentence"
    assert text[: repeat.cut].strip() == "1. Snowflake Inc [1]. - CFO [1]"
    assert find_repetition("Yes. The queen lays eggs. Yes.") is None
