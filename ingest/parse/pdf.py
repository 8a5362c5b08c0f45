"""PDF parser on PDFium (pypdfium2): one section per page, simple tables shaped, limits enforced while extracting.

PDFium is the PDF engine of Chromium. Compared with pypdf on ten real transcripts it extracts the
same text 14x faster, keeps ligatures ("Snowflake", not "Snowake") and has no array-size limit that
rejects ordinary large filings. It is not thread-safe, so every call into it holds one lock.

Pages with numbers in columns are read a second time, character by character with their boxes, to
find simple tables; those rows come out with their labels, like the tables of the other formats.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pypdfium2 as pdfium

from ingest.parse._text import Block, base_name, build_document
from ingest.parse.limits import Budget, ParseLimits
from ingest.parse.pdf_tables import Continued, might_hold_table, page_lines, shape_page
from kernel.errors import CorruptDocumentError
from kernel.models import Document

_log = logging.getLogger(__name__)
# PDFium keeps global state: one document at a time per process.
_PDFIUM = threading.Lock()
_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD


def _open(data: bytes, name: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if getattr(e, "err_code", None) == _PASSWORD_ERROR:
            raise CorruptDocumentError(f"{name} is an encrypted PDF that needs a password; decrypt it first") from e
        raise CorruptDocumentError(f"{name} is not a readable PDF: {e}") from e
    except Exception as e:  # a damaged file may surface as any error of the binding
        raise CorruptDocumentError(f"{name} is not a readable PDF: {e}") from e


def _title(pdf: pdfium.PdfDocument) -> str | None:
    try:
        title = pdf.get_metadata_value("Title")
    except Exception:  # a broken info dictionary only loses the title
        return None
    return title or None


def _page_text(pdf: pdfium.PdfDocument, index: int, carried: Continued | None) -> tuple[str, Continued | None]:
    """A page's text, with any simple table shaped (see ``ingest.parse.pdf_tables``), and what continues."""
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            text = str(textpage.get_text_range())
            if not might_hold_table(text):
                return text, None
            count = textpage.count_chars()
            if count != len(text):  # characters outside the BMP: indexes would not line up
                return text, None
            boxes = [textpage.get_charbox(i) for i in range(count)]
            shaped, continued = shape_page(page_lines(text, boxes), carried)
            return (text if shaped is None else shaped), continued
        finally:
            textpage.close()
    finally:
        page.close()


def parse_pdf(data: bytes, filename: str, limits: ParseLimits | None = None) -> Document:
    """Parse a PDF's text layer, one section per page; simple tables keep their row and column labels.

    Args:
        data: the file's bytes.
        filename: the file's name; its stem is the title when the PDF has none.
        limits: bounds checked page by page while extracting (defaults: ``ParseLimits()``).

    Returns:
        A Document whose sections carry 1-based page numbers; ``metadata`` has ``pages`` and,
        when some pages could not be read, ``unreadable_pages``.

    Raises:
        CorruptDocumentError: damaged, or encrypted with a password.
        EmptyDocumentError: no text layer at all (a scan; OCR is not supported).
        InvalidRequestError: more pages, characters or extraction time than ``limits`` allow.
    """
    name = base_name(filename)
    budget = Budget(limits or ParseLimits(), name)
    blocks: list[Block] = []
    unreadable: list[int] = []
    with _PDFIUM:
        pdf = _open(data, name)
        try:
            count = len(pdf)
            budget.pages(count)
            carried: Continued | None = None  # a table running on from the page before
            for index in range(count):
                try:
                    text, carried = _page_text(pdf, index, carried)
                except pdfium.PdfiumError as e:  # one bad page should not cost the others
                    _log.info("%s: page %d has unreadable text: %s", name, index + 1, e)
                    unreadable.append(index + 1)
                    carried = None
                    continue
                budget.add(text, page=index + 1)
                blocks.append(Block(text, page=index + 1))
            title = _title(pdf)
        finally:
            pdf.close()
    if count and len(unreadable) == count:
        raise CorruptDocumentError(f"{name}: the text of every page is unreadable")
    metadata: dict[str, Any] = {"pages": count}
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
