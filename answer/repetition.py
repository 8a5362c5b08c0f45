"""Loop detection for a streamed answer: where to cut once the text starts repeating itself.

Small models fall into loops ("2. Bees make honey. 3. Bees make honey. ..."). The detector watches the
text grow and reports a :class:`Repeat` at the first of:

- a sentence equal to an earlier one, after normalising (lower case, list and citation markers dropped,
  punctuation and whitespace collapsed), or near-equal to one (word-sequence similarity of at least
  ``near``);
- a run of ``min_ngram`` words that occurred before, even across sentence ends.

The cut is always where the sentence holding the repetition begins, so the answer keeps its earlier
sentences whole and never shows the repeated one. It depends only on the text, not on how it was split
into pieces: the whole text at once gives the same cut as a stream. No I/O: the state is the text seen.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from answer.sentences import sentences, word_limit, words

#: Words in a row that, seen twice, make a loop.
MIN_NGRAM = 8
#: Word-sequence similarity (difflib ratio) at which two sentences count as the same.
NEAR_RATIO = 0.9
#: Sentences shorter than this (in words) are not compared ("Yes." may come twice; "Snowflake Inc." may not).
MIN_SENTENCE_WORDS = 2


@dataclass(frozen=True)
class Repeat:
    """Where the text starts repeating itself: cut it at ``cut`` (a sentence boundary)."""

    cut: int
    kind: Literal["sentence", "near-sentence", "ngram"]
    repeated: str


class LoopDetector:
    """Feed text pieces in order; :meth:`feed` and :meth:`finish` return the Repeat once there is one."""

    def __init__(
        self, *, min_ngram: int = MIN_NGRAM, near: float = NEAR_RATIO, min_words: int = MIN_SENTENCE_WORDS
    ) -> None:
        self._min_ngram = min_ngram
        self._near = near
        self._min_words = min_words
        self._text = ""
        self._begin = 0  # where the unfinished sentence begins (the end of the last complete one)
        self._ends = [0]  # sentence boundaries so far, ascending
        self._sentences: list[tuple[str, ...]] = []
        self._words: list[str] = []
        self._word_pos = 0
        self._ngrams: set[tuple[str, ...]] = set()
        self._repeat: Repeat | None = None

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return self._text

    @property
    def repeat(self) -> Repeat | None:
        """The repetition found, if any."""
        return self._repeat

    @property
    def checked(self) -> int:
        """How much of the text is final and free of repetition: up to the cut, or the last complete sentence."""
        return self._repeat.cut if self._repeat is not None else self._begin

    def feed(self, piece: str) -> Repeat | None:
        """Add the next piece; the Repeat once the text repeats itself (later pieces are ignored)."""
        if self._repeat is None:
            self._text += piece
            self._check(final=False)
        return self._repeat

    def finish(self) -> Repeat | None:
        """The text is complete: check its unfinished last sentence and last words too."""
        if self._repeat is None:
            self._check(final=True)
            self._begin = len(self._text) if self._repeat is None else self._begin
        return self._repeat

    def _check(self, *, final: bool) -> None:
        found: list[Repeat] = []
        for sentence in sentences(self._text, self._begin, final=final):
            said = tuple(w.text for w in words(self._text, sentence.start, sentence.end))
            kind = self._same_as_before(said)
            if kind is not None:
                found.append(Repeat(cut=self._begin, kind=kind, repeated=self._text[sentence.start : sentence.end]))
                break
            self._sentences.append(said)
            if sentence.complete:
                self._begin = sentence.end
                self._ends.append(sentence.end)
        limit = word_limit(self._text, final=final)
        for word in words(self._text, self._word_pos, limit):
            self._words.append(word.text)
            window = tuple(self._words[-self._min_ngram :])
            if len(window) == self._min_ngram and window in self._ngrams:
                where = self._ends[bisect.bisect_right(self._ends, word.start) - 1]
                found.append(Repeat(cut=where, kind="ngram", repeated=" ".join(window)))
                break
            self._ngrams.add(window)
        self._word_pos = max(self._word_pos, limit)
        if found:
            self._repeat = min(found, key=lambda r: r.cut)

    def _same_as_before(self, said: tuple[str, ...]) -> Literal["sentence", "near-sentence"] | None:
        if len(said) < self._min_words:
            return None
        if said in self._sentences:
            return "sentence"
        for earlier in self._sentences:
            # A cheap bound first: the ratio cannot exceed 2 * shorter / total.
            if 2 * min(len(said), len(earlier)) < self._near * (len(said) + len(earlier)):
                continue
            if SequenceMatcher(None, said, earlier, autojunk=False).ratio() >= self._near:
                return "near-sentence"
        return None


def find_repetition(
    text: str, *, min_ngram: int = MIN_NGRAM, near: float = NEAR_RATIO, min_words: int = MIN_SENTENCE_WORDS
) -> Repeat | None:
    """Where a whole text starts repeating itself, or None; the same cut a stream of it would get."""
    detector = LoopDetector(min_ngram=min_ngram, near=near, min_words=min_words)
    detector.feed(text)
    return detector.finish()
