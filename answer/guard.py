"""A model's streamed reply, passed on only once the loop detector has checked it.

Text is released sentence by sentence (the unfinished sentence is held back, in the pieces the model
wrote it in), so a repeated sentence never reaches the client. When the detector finds a repetition the
model's stream is closed at once: llama.cpp stops decoding and frees the model.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator, Iterator

from answer.compose import Generated
from answer.repetition import LoopDetector
from kernel.models import Completion, StopReason
from kernel.ports import ChatStream


def guarded(pieces: ChatStream, *, max_tokens: int) -> Generator[str, None, Generated]:
    """Yield the checked text of ``pieces``; return what was kept and why generation ended.

    Token counts are the model's when it ended by itself; after a cut, completion tokens are the pieces
    read (about one token each) and prompt tokens are unknown (0).
    """
    detector = LoopDetector()
    ends: list[int] = []  # where each piece ends in the detector's text
    sent = 0
    read = 0
    summary: Completion | None = None
    try:
        while detector.repeat is None:
            try:
                piece = next(pieces)
            except StopIteration as end:
                summary = end.value
                break
            read += 1
            detector.feed(piece)
            ends.append(len(detector.text))
            for part in _release(detector.text, ends, sent, _with_space(detector.text, detector.checked), whole=True):
                sent += len(part)
                yield part
    finally:
        pieces.close()
    detector.finish()
    yield from _release(detector.text, ends, sent, detector.checked)
    text = detector.text[: detector.checked]
    if detector.repeat is not None:
        return Generated(text=text, stop_reason="repetition", completion_tokens=read)
    if summary is None:
        reason: StopReason = "length" if read >= max_tokens else "stop"
        return Generated(text=text, stop_reason=reason, completion_tokens=read)
    return Generated(
        text=text,
        stop_reason="length" if summary.finish_reason == "length" else "stop",
        prompt_tokens=summary.prompt_tokens,
        completion_tokens=summary.completion_tokens,
    )


def _with_space(text: str, upto: int) -> int:
    """``upto`` moved over the whitespace after it: sending it early cannot show a repeat."""
    return upto + len(text[upto:]) - len(text[upto:].lstrip())


def _release(text: str, ends: list[int], sent: int, upto: int, *, whole: bool = False) -> Iterator[str]:
    """The text between ``sent`` and ``upto``, split where the model's pieces ended.

    With ``whole``, a piece that ``upto`` falls inside waits for the next release (a client gets no
    more pieces than the model wrote).
    """
    for end in ends[bisect.bisect_right(ends, sent) :]:
        if end <= upto:
            yield text[sent:end]
            sent = end
        else:
            break
    if sent < upto and not whole:
        yield text[sent:upto]
