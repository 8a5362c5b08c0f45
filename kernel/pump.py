"""Run a generator in its own thread, so that whatever it holds is never held hostage by a slow reader.

A streamed generation holds the model's lock and a place in the generation queue. If those were held across
``yield`` to an HTTP client, a client that stops reading would hold them forever. :func:`pumped` runs the
generator to its end in a daemon thread that buffers every item (a generation is bounded by ``max_tokens``,
so the buffer is too) and hands the reader a generator over that buffer. Closing the reader's generator
(client gone) cancels the producer: it stops before its next item and closes the source, which frees
what it holds.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import weakref
from collections.abc import Callable, Generator
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Pump(Generic[T, R]):
    """The producer side: drains ``source`` into a queue until it ends or ``stop`` is set."""

    def __init__(self, source: Generator[T, None, R], *, name: str) -> None:
        self.items: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self.stop = threading.Event()
        self._source = source
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            with contextlib.closing(self._source):
                while not self.stop.is_set():
                    try:
                        item = next(self._source)
                    except StopIteration as end:
                        self.items.put(("return", end.value))
                        return
                    self.items.put(("item", item))
        except BaseException as exc:  # handed to the reader, who raises it in its own thread
            self.items.put(("raise", exc))
        finally:
            # Drop the source at once: finalizers on it (a queue place) run when the work is done.
            del self._source


def pumped(
    source: Generator[T, None, R], *, name: str, on_cancel: Callable[[], None] | None = None
) -> Generator[T, None, R]:
    """``source``'s items and return value, produced in a thread of their own from now on.

    The producer never waits for the reader. Closing the returned generator before its end (or dropping
    it) stops the producer before its next item and calls ``on_cancel`` at once (e.g. to free a queue
    place that the producer will give back only after its current item). Errors of ``source`` are raised
    to the reader.

    Args:
        source: The generator to run; from now on only the pump's thread may touch it.
        name: Thread name (shows in stack dumps).
        on_cancel: Called once when the reader stops early.

    Returns:
        A generator over the same items that returns what ``source`` returned.
    """
    pump: _Pump[T, R] = _Pump(source, name=name)
    pump.thread.start()
    ending = _Ending(pump.stop, on_cancel)
    reader = _read(pump, ending)
    # A reader closed before its first item never runs its body: cancel when it is collected too.
    weakref.finalize(reader, ending.cancel)
    return reader


class _Ending:
    """Cancels the producer once, unless it has already finished."""

    def __init__(self, stop: threading.Event, on_cancel: Callable[[], None] | None) -> None:
        self._stop = stop
        self._on_cancel = on_cancel
        self._lock = threading.Lock()
        self._done = False

    def finish(self) -> None:
        with self._lock:
            self._done = True

    def cancel(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        self._stop.set()
        if self._on_cancel is not None:
            self._on_cancel()


def _read(pump: _Pump[T, R], ending: _Ending) -> Generator[T, None, R]:
    try:
        while True:
            kind, value = pump.items.get()
            if kind == "item":
                yield value  # type: ignore[misc]
                continue
            ending.finish()
            if kind == "raise":
                raise value  # type: ignore[misc]
            return value  # type: ignore[return-value]
    finally:
        ending.cancel()
