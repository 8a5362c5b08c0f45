"""Parse uploaded files into Documents, choosing the parser by content first and extension second."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import PurePath

from ingest.parse._text import base_name, looks_like_text
from ingest.parse.docx import parse_docx
from ingest.parse.html import parse_html
from ingest.parse.limits import ParseLimits
from ingest.parse.markdown import parse_markdown
from ingest.parse.pdf import parse_pdf
from ingest.parse.txt import parse_txt
from kernel.errors import EmptyDocumentError, UnsupportedFormatError
from kernel.models import Document

__all__ = ["FORMATS", "SUPPORTED_EXTENSIONS", "ParseLimits", "detect_format", "parse_document"]

#: Parser for each format name (the value stored in ``Document.format``).
FORMATS: dict[str, Callable[[bytes, str, ParseLimits | None], Document]] = {
    "txt": parse_txt,
    "markdown": parse_markdown,
    "html": parse_html,
    "pdf": parse_pdf,
    "docx": parse_docx,
}

_EXTENSIONS = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
#: File extensions (lower case, with the dot) that we know how to parse.
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_EXTENSIONS)

_SNIFF_WINDOW = 1024
_HTML_SNIFF = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


def _unsupported(filename: str, what: str) -> UnsupportedFormatError:
    kinds = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    return UnsupportedFormatError(f"{base_name(filename)}: {what} is not supported; supported types: {kinds}")


def _is_docx_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError, EOFError):
        return False


def detect_format(data: bytes, filename: str) -> str:
    """Name the parser for a file: one of ``FORMATS``' keys.

    Magic bytes win (``%PDF``, a zip holding ``word/document.xml``, an HTML doctype); otherwise the
    extension decides; an unknown extension still parses as text when the bytes are text. A file
    that claims a binary type by extension but lacks its magic is still routed to that parser,
    which then reads it (pypdf tolerates junk before the header) or reports it as corrupt.

    Raises:
        UnsupportedFormatError: neither content nor extension is a format we parse.
    """
    ext = PurePath(base_name(filename)).suffix.lower()
    claimed = _EXTENSIONS.get(ext)
    head = data[:_SNIFF_WINDOW].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC)):
        if _is_docx_zip(data) or claimed == "docx":
            return "docx"
        raise _unsupported(filename, "a zip archive that is not a Word document")
    if head.startswith(b"<") and _HTML_SNIFF.search(head):
        return "html"
    if claimed is not None:
        return claimed
    if looks_like_text(data):
        return "txt"
    raise _unsupported(filename, f"file type {ext or '(no extension)'!r}")


def parse_document(data: bytes, filename: str, limits: ParseLimits | None = None) -> Document:
    """Parse a file's bytes into a Document.

    Args:
        data: the whole file.
        filename: its name (directories are dropped for ``Document.source``).
        limits: bounds every parser enforces while extracting: text per page or section and in
            all, pages, time; a DOCX's XML size (defaults: ``ParseLimits()``).

    Returns:
        The parsed Document; ``format`` says which parser read it.

    Raises:
        EmptyDocumentError: the file is empty, blank, or has no extractable text.
        UnsupportedFormatError: the file is of a type we do not parse.
        CorruptDocumentError: the file claims a supported type but cannot be read.
        InvalidRequestError: the file produces more pages, text or extraction time than ``limits`` allow.
    """
    if not data.strip():
        raise EmptyDocumentError(f"{base_name(filename)} is empty")
    fmt = detect_format(data, filename)
    return FORMATS[fmt](data, filename, limits)
