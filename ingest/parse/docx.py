"""DOCX parser on python-docx: paragraphs, heading styles and shaped tables, guarded against zip bombs."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from typing import Any

import docx
from docx.oxml.ns import qn
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph

from ingest.parse._text import Block, base_name, build_document
from ingest.parse.limits import Budget, ParseLimits
from ingest.parse.tables import Table, guess_header_rows, make_table, shape_table
from kernel.errors import CorruptDocumentError, InvalidRequestError
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
    max_xml_bytes: int | None = None,
) -> None:
    """Refuse archives that would expand to too much data (zip bombs), before anything inflates them.

    The declared sizes are trustworthy enough: Python's zipfile never inflates a member past its
    declared size (it fails the CRC check instead).

    Args:
        data: the archive.
        filename: its name, for messages.
        max_bytes: all members together, expanded.
        max_ratio: expanded to packed size, of a large member or of the whole archive.
        max_xml_bytes: the XML parts together, expanded: python-docx holds them in memory as trees.

    Raises:
        CorruptDocumentError: not a zip, too large when expanded, or too highly compressed.
        InvalidRequestError: more XML than ``max_xml_bytes`` (a real but too large document).
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
    xml = sum(m.file_size for m in members if m.filename.endswith((".xml", ".rels")))
    if max_xml_bytes is not None and xml > max_xml_bytes:
        raise InvalidRequestError(
            f"{name}: its Word XML would expand to {xml:,} bytes; the limit is {max_xml_bytes:,}. "
            "Split the document into smaller files."
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


def _style_name(paragraph: Paragraph) -> str:
    try:
        style = paragraph.style
    except (KeyError, ValueError, AttributeError):  # a dangling style id just means body text
        return ""
    return str(getattr(style, "name", "") or "")


def _heading_level(paragraph: Paragraph) -> int:
    style_name = _style_name(paragraph)
    if style_name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(style_name)
    return int(match.group(1)) if match else 0


def _cell_text(cell: Any) -> str:
    """A cell's paragraphs and any nested table's cells, flattened to one line."""
    parts: list[str] = []
    for item in cell.iter_inner_content():
        if isinstance(item, Paragraph):
            parts.append(item.text)
        else:
            parts += [_cell_text(inner) for row in item.rows for inner in _distinct(row.cells)]
    return " ".join(" ".join(parts).split())


def _distinct(cells: Sequence[Any]) -> list[Any]:
    # A merged cell is returned once per grid column it spans (the same object each time).
    return [cell for i, cell in enumerate(cells) if i == 0 or cell is not cells[i - 1]]


def _header_marks(body: Any) -> list[int]:
    """For each table of the body, in order: how many leading rows Word repeats as a header (``w:tblHeader``)."""
    marks: list[int] = []
    for tbl in body.iterchildren(qn("w:tbl")):
        count = 0
        for tr in tbl.iterchildren(qn("w:tr")):
            mark = tr.find(f"{qn('w:trPr')}/{qn('w:tblHeader')}")
            if mark is None or mark.get(qn("w:val"), "true") in ("false", "0", "off"):
                break
            count += 1
        marks.append(count)
    return marks


def _table(table: DocxTable, caption: str, marked: int) -> Table:
    """The table on its layout grid: a cell spanning columns is text once, then None for the rest.

    Header rows are the ``marked`` ones, else guessed (``guess_header_rows``).
    """
    rows: list[list[str | None]] = []
    for row in table.rows:
        cells: list[str | None] = [""] * row.grid_cols_before
        previous: Any = None
        for cell in row.cells:
            cells.append(None if cell is previous else _cell_text(cell))
            previous = cell
        rows.append(cells)
    return make_table(rows, header_rows=marked or guess_header_rows(rows), caption=caption)


def parse_docx(data: bytes, filename: str, limits: ParseLimits | None = None) -> Document:
    """Parse a Word document: paragraphs in order, heading styles as headings, each table shaped as one block.

    Args:
        data: the file's bytes.
        filename: the file's name; its stem is the title when the document names none.
        limits: bounds on the XML size, text per section and in all, and time (defaults: ``ParseLimits()``).

    Returns:
        A Document with one section per paragraph or table.

    Raises:
        CorruptDocumentError: damaged, not a DOCX, or a zip bomb.
        EmptyDocumentError: no text.
        InvalidRequestError: more XML, text or parse time than ``limits`` allow.
    """
    name = base_name(filename)
    budget = Budget(limits or ParseLimits(), name)
    check_zip_safety(data, filename, max_xml_bytes=budget.limits.max_xml_bytes)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[Block] = []
        marks = iter(_header_marks(document.element.body))
        caption_before = False  # the last block is a caption paragraph, which a table right after takes
        for item in document.iter_inner_content():
            budget.check_time()
            if isinstance(item, Paragraph):
                blocks.append(Block(item.text, level=_heading_level(item)))
                caption_before = _style_name(item).lower() == "caption"
            else:
                caption = blocks.pop().text if caption_before else ""
                blocks.append(Block(shape_table(_table(item, caption, next(marks, 0)))))
                caption_before = False
        title: str | None = document.core_properties.title
    except (CorruptDocumentError, InvalidRequestError):
        raise
    except Exception as e:
        # python-docx surfaces damage as KeyError, lxml syntax errors, PackageNotFoundError, ...
        raise CorruptDocumentError(f"{name} is not a readable DOCX file: {e}") from e
    return build_document(blocks, filename=filename, fmt="docx", title=title, budget=budget)
