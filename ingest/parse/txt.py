"""Plain-text parser: decode the bytes and make each blank-line separated paragraph a section."""

from __future__ import annotations

import re

from ingest.parse._text import Block, base_name, build_document, decode_text
from ingest.parse.limits import Budget, ParseLimits
from kernel.models import Document

_PARAGRAPH_SPLIT = re.compile(r"\n[^\S\n]*\n|\f")


def parse_txt(data: bytes, filename: str, limits: ParseLimits | None = None) -> Document:
    """Parse a plain-text file.

    Args:
        data: the file's bytes (UTF-8, UTF-8/16 with BOM, or cp1252/latin-1 text).
        filename: the file's name; its stem becomes the title.
        limits: bounds on text per section and in all (defaults: ``ParseLimits()``).

    Returns:
        A Document with one section per paragraph.

    Raises:
        CorruptDocumentError: the bytes are not text.
        EmptyDocumentError: the text is blank.
        InvalidRequestError: more text than ``limits`` allow.
    """
    text = decode_text(data, filename).replace("\r\n", "\n").replace("\r", "\n")
    blocks = [Block(paragraph) for paragraph in _PARAGRAPH_SPLIT.split(text)]
    return build_document(
        blocks, filename=filename, fmt="txt", budget=Budget(limits or ParseLimits(), base_name(filename))
    )
