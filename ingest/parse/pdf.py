"""PDF parser on pypdf: one section per page, with clear errors for encrypted and scanned files."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from ingest.parse._text import Block, base_name, build_document
from kernel.errors import CorruptDocumentError
from kernel.models import Document

_log = logging.getLogger(__name__)
_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_level = logging.NOTSET


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """Silence pypdf's per-object complaints ("EOF marker not found", ...) while we parse.

    pypdf logs every recoverable oddity of a damaged file at WARNING or ERROR; the outcome is
    reported once, by our exception, instead. A depth counter keeps concurrent parses from
    restoring the level early.
    """
    global _quiet_depth, _saved_level  # noqa: PLW0603 - process-wide logger state needs process-wide bookkeeping
    logger = logging.getLogger("pypdf")
    with _quiet_lock:
        if _quiet_depth == 0:
            _saved_level = logger.level
            logger.setLevel(logging.CRITICAL)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                logger.setLevel(_saved_level)


def _open(data: bytes, name: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorruptDocumentError(f"{name} is an encrypted PDF that needs a password; decrypt it first")
    except CorruptDocumentError:
        raise
    except (DependencyError, NotImplementedError) as e:
        raise CorruptDocumentError(f"{name} is an encrypted PDF we cannot decrypt ({e})") from e
    except FileNotDecryptedError as e:
        raise CorruptDocumentError(f"{name} is an encrypted PDF that needs a password; decrypt it first") from e
    except Exception as e:
        # pypdf raises many exception types (PdfReadError, ValueError, KeyError, ...) on damaged files.
        raise CorruptDocumentError(f"{name} is not a readable PDF: {e}") from e
    return reader


def _title(reader: PdfReader) -> str | None:
    try:
        info = reader.metadata
        title = info.title if info is not None else None
    except (PyPdfError, ValueError, KeyError, TypeError):  # a broken info dictionary only loses the title
        return None
    return title if isinstance(title, str) else None


def parse_pdf(data: bytes, filename: str) -> Document:
    """Parse a PDF's text layer, one section per page.

    Args:
        data: the file's bytes.
        filename: the file's name; its stem is the title when the PDF has none.

    Returns:
        A Document whose sections carry 1-based page numbers; ``metadata`` has ``pages`` and,
        when some pages could not be read, ``unreadable_pages``.

    Raises:
        CorruptDocumentError: damaged, or encrypted with a password.
        EmptyDocumentError: no text layer at all (a scan; OCR is not supported).
    """
    name = base_name(filename)
    with _quiet_pypdf():
        reader = _open(data, name)
        try:
            pages = list(reader.pages)
        except Exception as e:  # a broken page tree surfaces as any of pypdf's error types
            raise CorruptDocumentError(f"{name} is not a readable PDF: {e}") from e
        blocks: list[Block] = []
        unreadable: list[int] = []
        for number, page in enumerate(pages, start=1):
            try:
                blocks.append(Block(page.extract_text() or "", page=number))
            except Exception as e:  # one bad content stream should not cost the other pages
                _log.info("%s: page %d has unreadable text: %s", name, number, e)
                unreadable.append(number)
        title = _title(reader)
    if pages and len(unreadable) == len(pages):
        raise CorruptDocumentError(f"{name}: the text of every page is unreadable")
    metadata: dict[str, Any] = {"pages": len(pages)}
    if unreadable:
        metadata["unreadable_pages"] = unreadable
    return build_document(
        blocks,
        filename=filename,
        fmt="pdf",
        title=title,
        metadata=metadata,
        empty_reason="has no text layer (probably a scan); OCR is not supported",
    )
