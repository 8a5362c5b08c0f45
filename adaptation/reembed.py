"""Filling a dense space: every stored point's text embedded by a model, written as that space's vectors."""

from __future__ import annotations

import time
from collections.abc import Callable

from adaptation.pairs import SCAN_PAGE, point_text, scan_pages
from kernel.ports import DenseSpaces, Embedder

#: Called as (points written so far) after each page.
ProgressFn = Callable[[int], None]


def fill_space(
    store: DenseSpaces,
    collection: str,
    space: str,
    embedder: Embedder,
    *,
    missing_only: bool = False,
    on_progress: ProgressFn | None = None,
) -> tuple[int, float]:
    """Embed the points (all, or only those without a ``space`` vector) into ``space``: (points, seconds).

    The text is what the base vectors were made from (context header + chunk text), so the two spaces
    hold the same passages. Points written meanwhile by an ingest that already fills this space are
    simply overwritten with the same vectors; the ones it did not fill are found by ``missing_only``.
    """
    started = time.perf_counter()
    written = 0
    for page in scan_pages(store, collection, limit=SCAN_PAGE, missing=space if missing_only else None):
        if page:
            vectors = embedder.embed([point_text(payload) for _pid, payload in page])
            store.set_dense(collection, space, {pid: v for (pid, _), v in zip(page, vectors, strict=True)})
            written += len(page)
            if on_progress is not None:
                on_progress(written)
    return written, round(time.perf_counter() - started, 2)
