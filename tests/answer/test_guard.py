"""The loop guard between a model's stream and the client: checked text only, the model stopped on a loop."""

from __future__ import annotations

from answer.guard import guarded
from answer.repetition import find_repetition
from kernel.models import Completion
from kernel.ports import ChatStream


def _looping(closed: list[bool]) -> ChatStream:
    """A model stuck in a loop: it would never end by itself."""
    try:
        yield "Bees make "
        yield "honey. Hives hold one queen. "
        while True:
            yield "Bees make "
            yield "honey. "
    finally:
        closed.append(True)


def _ending(text: str, finish_reason: str) -> ChatStream:
    for word in text.split(" "):
        yield word + " "
    return Completion(text=text, prompt_tokens=7, completion_tokens=5, finish_reason=finish_reason)


def _drain(stream: ChatStream, max_tokens: int = 10_000) -> tuple[list[str], object]:
    out: list[str] = []
    guard = guarded(stream, max_tokens=max_tokens)
    while True:
        try:
            out.append(next(guard))
        except StopIteration as end:
            return out, end.value


def test_a_loop_stops_the_model_before_the_repeat_is_sent() -> None:
    closed: list[bool] = []
    pieces, generated = _drain(_looping(closed))
    assert closed == [True]
    sent = "".join(pieces).strip()
    assert sent == "Bees make honey. Hives hold one queen."
    assert find_repetition(sent) is None
    assert generated.text == sent and generated.stop_reason == "repetition"  # type: ignore[attr-defined]


def test_text_keeps_the_models_pieces_and_its_finish_reason() -> None:
    pieces, generated = _drain(_ending("Honey is sweet. Wax is not.", "length"))
    assert pieces == ["Honey ", "is ", "sweet. ", "Wax ", "is ", "not. "]
    assert generated.stop_reason == "length" and generated.prompt_tokens == 7  # type: ignore[attr-defined]
    _, stopped = _drain(_ending("Honey is sweet.", "stop"))
    assert stopped.stop_reason == "stop"  # type: ignore[attr-defined]


def test_without_a_summary_the_piece_count_decides_length() -> None:
    def plain(n: int) -> ChatStream:
        for i in range(n):
            yield f"w{i} "
        return None

    assert _drain(plain(4), max_tokens=4)[1].stop_reason == "length"  # type: ignore[attr-defined]
    assert _drain(plain(3), max_tokens=4)[1].stop_reason == "stop"  # type: ignore[attr-defined]
