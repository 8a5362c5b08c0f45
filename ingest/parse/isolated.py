"""Parse an upload in a child process: its CPU time, its garbage collections and a crash are not the service's.

Parsing in a thread of the service shares the interpreter lock with the event loop: a hostile file that
parses slowly (or allocates hundreds of thousands of objects, whose garbage collections stop every
thread) delays ``/healthz`` and every tenant's requests. A child process forked from a small server
that has already imported the parsers (``forkserver``: no model, no torch in it) parses the file and
sends the Document back; past the time budget it is killed, and a parser that crashes (a native
library on a malformed file) costs a 422, not the service.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection

from ingest.parse import ParseLimits, parse_document
from kernel.errors import CorruptDocumentError, SynthragError
from kernel.models import Document

#: Seconds past the parse budget before the child is killed (the budget itself is checked in the child,
#: between pages and blocks, and answers with a clearer message).
KILL_GRACE_S = 5.0
_PRELOAD = ["ingest.parse"]


def _child(out: Connection, data: bytes, source: str, limits: ParseLimits | None) -> None:
    try:
        out.send(("ok", parse_document(data, source, limits)))
    except SynthragError as exc:  # the file's fault: 415 / 422 with the parser's message
        out.send(("error", exc))
    except Exception as exc:  # a parser bug on a strange file: still the file's 422
        out.send(("error", CorruptDocumentError(f"{source}: cannot be read ({type(exc).__name__})")))
    finally:
        out.close()


def parse_isolated(
    data: bytes, source: str, limits: ParseLimits | None = None, *, grace_s: float = KILL_GRACE_S
) -> Document:
    """``parse_document`` in a child process, killed past the budget (``limits.max_seconds`` + ``grace_s``).

    Raises:
        SynthragError: what ``parse_document`` raises (415/422), a 422 when the parser crashed or ran
            out of time.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)  # the parsers are imported once, in the fork server
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, data, source, limits), name="synthrag-parse", daemon=True)
    child.start()
    sender.close()  # ours: only the child writes, so a dead child reads as end of file
    budget = (limits.max_seconds if limits is not None else ParseLimits().max_seconds) + grace_s
    try:
        if not receiver.poll(budget):
            child.kill()
            raise CorruptDocumentError(
                f"{source}: parsing took longer than {budget:.1f} s and was stopped; split the document into "
                "smaller files"
            )
        try:
            kind, value = receiver.recv()
        except EOFError:
            raise CorruptDocumentError(
                f"{source}: the parser stopped on this file (exit code {_exit_code(child)}); the file may be "
                "damaged: export it again"
            ) from None
    finally:
        receiver.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()
    if kind == "error":
        raise value
    assert isinstance(value, Document)
    return value


def _exit_code(child: multiprocessing.process.BaseProcess) -> int | None:
    child.join(timeout=5)
    return child.exitcode
