"""PDF parser on PDFium (pypdfium2): one section per page, limits enforced while extracting.

PDFium is the PDF engine of Chromium. Compared with pypdf on ten real transcripts it extracts the
same text 14x faster, keeps ligatures ("Snowflake", not "Snowake") and has no array-size limit that
rejects ordinary large filings. It is not thread-safe, so every call into it holds one lock.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pypdfium2 as pdfium

from ingest.parse._text import Block, base_name, build_document
from ingest.parse.limits import Budget, ParseLimits
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


def _page_text(pdf: pdfium.PdfDocument, index: int) -> str:
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            return str(textpage.get_text_range())
        finally:
            textpage.close()
    finally:
        page.close()


def parse_pdf(data: bytes, filename: str, limits: ParseLimits | None = None) -> Document:
    """Parse a PDF's text layer, one section per page.

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
            for index in range(count):
                try:
                    text = _page_text(pdf, index)
                except pdfium.PdfiumError as e:  # one bad page should not cost the others
                    _log.info("%s: page %d has unreadable text: %s", name, index + 1, e)
                    unreadable.append(index + 1)
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
