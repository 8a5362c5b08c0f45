"""DOCX parser on python-docx: paragraphs, heading styles and table cells, guarded against zip bombs."""

from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.parse._text import Block, base_name, build_document
from kernel.errors import CorruptDocumentError
from kernel.models import Document

MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100.0
# Tiny members (styles, empty parts) compress absurdly well without being dangerous.
_RATIO_MIN_BYTES = 1024 * 1024
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def check_zip_safety(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = MAX_UNCOMPRESSED_BYTES,
    max_ratio: float = MAX_COMPRESSION_RATIO,
) -> None:
    """Refuse archives that would expand to too much data (zip bombs), before anything inflates them.

    The declared sizes are trustworthy enough: Python's zipfile never inflates a member past its
    declared size (it fails the CRC check instead).

    Raises:
        CorruptDocumentError: not a zip, too large when expanded, or too highly compressed.
    """
    name = base_name(filename)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        ValueError,
        OSError,
        EOFError,
    ) as e:
        raise CorruptDocumentError(f"{name} is not a valid DOCX file (damaged zip archive): {e}") from e
    total = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if total > max_bytes:
        raise CorruptDocumentError(
            f"{name} would expand to {total} bytes (limit {max_bytes}); refusing a possible zip bomb"
        )
    worst = max(
        (m.file_size / max(m.compress_size, 1) for m in members if m.file_size >= _RATIO_MIN_BYTES),
        default=0.0,
    )
    ratio = max(worst, total / max(packed, 1) if total >= _RATIO_MIN_BYTES else 0.0)
    if ratio > max_ratio:
        raise CorruptDocumentError(
            f"{name} has a compression ratio of {ratio:.0f}:1 (limit {max_ratio:.0f}:1); refusing a possible zip bomb"
        )


def _heading_level(paragraph: Paragraph) -> int:
    try:
        style = paragraph.style
    except (KeyError, ValueError, AttributeError):  # a dangling style id just means body text
        return 0
    style_name = str(getattr(style, "name", "") or "")
    if style_name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(style_name)
    return int(match.group(1)) if match else 0


def _table_text(table: Table) -> str:
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans (the same object each time); keep it once.
            if id(cell) in seen:
                continue
            seen.add(id(cell))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def parse_docx(data: bytes, filename: str) -> Document:
    """Parse a Word document: paragraphs in order, heading styles as headings, tables row by row.

    Args:
        data: the file's bytes.
        filename: the file's name; its stem is the title when the document names none.

    Returns:
        A Document with one section per paragraph or table.

    Raises:
        CorruptDocumentError: damaged, not a DOCX, or a zip bomb.
        EmptyDocumentError: no text.
    """
    name = base_name(filename)
    check_zip_safety(data, filename)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[Block] = []
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                blocks.append(Block(item.text, level=_heading_level(item)))
            else:
                blocks.append(Block(_table_text(item)))
        title: str | None = document.core_properties.title
    except CorruptDocumentError:
        raise
    except Exception as e:
        # python-docx surfaces damage as KeyError, lxml syntax errors, PackageNotFoundError, ...
        raise CorruptDocumentError(f"{name} is not a readable DOCX file: {e}") from e
    if not (title and title.strip()):
        title = next((b.text for b in blocks if b.level == 1 and b.text.strip()), None)
    return build_document(blocks, filename=filename, fmt="docx", title=title)
