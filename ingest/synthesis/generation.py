"""Generation for the synthesis stage: chunk notes (through a thread pool for a remote teacher), then document notes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from kernel.models import Chunk
from knowledge.generate import Generated, TeacherGenerator
from knowledge.schemas import ChunkNotes, DocumentNotes

#: Called with the number of chunks whose generation finished (for progress and job heartbeats).
ChunkDoneFn = Callable[[int], None]


def generate_chunk_notes(
    generator: TeacherGenerator,
    chunks: Sequence[Chunk],
    *,
    concurrency: int,
    on_chunk: ChunkDoneFn | None = None,
    scope: str = "",
    owner: str = "",
) -> list[Generated[ChunkNotes]]:
    """Notes for every chunk, in chunk order, with up to ``concurrency`` generations in flight.

    Args:
        generator: The teacher (its cache answers chunks seen before).
        chunks: The document's chunks.
        concurrency: Requests in flight; 1 runs them on the calling thread, batched when the model decodes
            several conversations at once (see ``TeacherGenerator.chunk_notes_many``).
        on_chunk: Called with the count of finished chunks after each one.
        scope: The tenant whose cached generations may be used (see ``TeacherGenerator.chunk_notes_many``).
        owner: The document's id, recorded with each cache entry (its deletion removes entries only it used).
    """
    done = 0
    lock = threading.Lock()

    def one(chunk: Chunk) -> Generated[ChunkNotes]:
        nonlocal done
        result = generator.chunk_notes(chunk.text, scope=scope, owner=owner)
        with lock:  # pool threads finish in any order; progress counts each once
            done += 1
            if on_chunk is not None:
                on_chunk(done)
        return result

    if concurrency <= 1 or len(chunks) == 1:
        # The local teacher: one call decodes a batch of chunks (when the model can), progress per chunk.
        return generator.chunk_notes_many(
            [chunk.text for chunk in chunks], on_done=on_chunk, scope=scope, owners=[owner] * len(chunks)
        )
    # A remote teacher: several requests in flight (the adapter bounds them process-wide too).
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="synth") as pool:
        return list(pool.map(one, chunks))


#: Characters of the document's own text the document notes are written from when no chunk has notes.
OPENING_CHARS = 1500


def generate_document_notes(
    generator: TeacherGenerator,
    title: str,
    notes: Sequence[ChunkNotes | None],
    *,
    text: str = "",
    scope: str = "",
    owner: str = "",
) -> Generated[DocumentNotes] | None:
    """The document's notes, written from its title and its chunks' summaries and keywords.

    Without chunk notes (none generated, or all failed) they are written from the opening of ``text``.

    Returns:
        The generation, or None when there is nothing to summarize (no chunk notes and no text).
    """
    good = [n for n in notes if n is not None]
    if good:
        summaries, keywords = [n.summary for n in good], [k for n in good for k in n.keywords]
        return generator.document_notes(title, summaries, keywords, scope=scope, owner=owner)
    opening = " ".join(text[:OPENING_CHARS].split())
    if not opening:
        return None
    return generator.document_notes(title, [opening], [], scope=scope, owner=owner)
