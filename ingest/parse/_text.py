"""Shared helpers for parsers: decoding bytes, normalising text and assembling a Document."""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any, NamedTuple

from ingest.parse.limits import Budget
from kernel.errors import CorruptDocumentError, EmptyDocumentError
from kernel.models import Document, Section

PARAGRAPH_BREAK = "\n\n"

# Control characters other than tab/newline carry no text; NUL in particular breaks stores and JSON.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufeff\u200b]")
_INLINE_SPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{2,}")
# Share of non-text characters above which bytes are treated as binary rather than text.
_MAX_JUNK_RATIO = 0.05
# A legacy 8-bit file in a Latin script is still mostly ASCII; random bytes are not.
_MIN_ASCII_RATIO_LEGACY = 0.7


class Block(NamedTuple):
    """One paragraph-level piece of a parsed document, before assembly."""

    text: str
    level: int = 0  # heading level, 0 for body text
    page: int | None = None


def file_stem(filename: str) -> str:
    """The file name without directories or extension (never empty)."""
    name = base_name(filename)
    return PurePath(name).stem or name or "untitled"


def base_name(filename: str) -> str:
    """The file name without directories; accepts both slash styles."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1]


def normalize_text(text: str) -> str:
    """Collapse spaces and tabs, strip lines, keep paragraph breaks as one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", PARAGRAPH_BREAK)
    text = _CONTROL.sub("", text)
    text = _INLINE_SPACE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub(PARAGRAPH_BREAK, text).strip()


def _junk_ratio(text: str) -> float:
    if not text:
        return 0.0
    junk = sum(
        1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) in ("Cc", "Co", "Cs") and ch not in "\t\n\r\f")
    )
    return junk / len(text)


def looks_like_text(data: bytes) -> bool:
    """True when the bytes decode to mostly printable text (UTF-8 or a legacy 8-bit code page)."""
    try:
        decode_text(data, "data")
    except CorruptDocumentError:
        return False
    return True


def decode_text(data: bytes, filename: str, *, declared: str | None = None) -> str:
    """Decode text bytes: BOM, then UTF-8, then a declared charset, then cp1252/latin-1 if plausible.

    Raises:
        CorruptDocumentError: the bytes are not text in any encoding we try.
    """
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as e:
                raise CorruptDocumentError(f"{filename} has a {codec} marker but is not valid {codec}") from e
            return _checked(text, filename)
    try:
        return _checked(data.decode("utf-8"), filename)
    except UnicodeDecodeError:
        pass
    for codec in ([declared] if declared else []) + ["cp1252", "latin-1"]:
        try:
            text = data.decode(codec)
        except (UnicodeError, LookupError, ValueError):  # a declared charset may be any word: "undefined", "base64"
            continue
        ascii_share = sum(1 for ch in text if ch < "\x80") / max(len(text), 1)
        if codec == declared or ascii_share >= _MIN_ASCII_RATIO_LEGACY:
            return _checked(text, filename)
    raise CorruptDocumentError(f"{filename} does not look like text (it is not UTF-8 and looks binary)")


def _checked(text: str, filename: str) -> str:
    if _junk_ratio(text) > _MAX_JUNK_RATIO:
        raise CorruptDocumentError(f"{filename} does not look like text (it contains binary data)")
    return text


def build_document(
    blocks: Iterable[Block],
    *,
    filename: str,
    fmt: str,
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    empty_reason: str = "contains no text",
    budget: Budget | None = None,
) -> Document:
    """Join blocks with paragraph breaks into a Document whose sections map each block.

    ``blocks`` may be a generator: with a ``budget`` each block is counted as it comes, so a parse
    stops at the first block over the limits. Without a ``title`` the first level-1 heading names it.

    Raises:
        EmptyDocumentError: no block holds any text.
        InvalidRequestError: a block or all of them together exceed the ``budget``.
    """
    parts: list[str] = []
    sections: list[Section] = []
    offset = 0
    heading: str | None = None
    for block in blocks:
        text = normalize_text(block.text)
        if not text:
            continue
        if parts:
            parts.append(PARAGRAPH_BREAK)
            offset += len(PARAGRAPH_BREAK)
        if block.level > 0:
            # Headings are one line; a title wrapped over lines still names one section.
            text = " ".join(text.split())
            heading = text
            if block.level == 1 and not (title and title.strip()):
                title = text
        if budget is not None:
            budget.add(text, page=block.page)
        parts.append(text)
        sections.append(
            Section(start=offset, end=offset + len(text), page=block.page, heading=heading, level=block.level)
        )
        offset += len(text)
    full = "".join(parts)
    name = base_name(filename)
    if not full:
        raise EmptyDocumentError(f"{name} {empty_reason}")
    clean_title = " ".join((title or "").split()) or file_stem(filename)
    return Document(source=name, format=fmt, title=clean_title, text=full, sections=sections, metadata=metadata or {})
