"""Markdown parser: heading-aware sections, inline markup stripped, code and lists kept as text, tables shaped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import normalizeReference

from ingest.parse._text import Block, base_name, build_document, decode_text
from ingest.parse.limits import Budget, ParseLimits
from ingest.parse.tables import Table, make_table, shape_table
from kernel.errors import InvalidRequestError
from kernel.models import Document

# Block patterns match at the line start and never backtrack over a run of the line (no nested or
# adjacent unbounded repeats); the rest of a line is cut with str methods, so each is linear.
_ATX = re.compile(r" {0,3}(#{1,6})(?=[ \t]|$)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LINK_DEF = re.compile(r" {0,3}\[([^\]]+)\]:\s+(\S+)")
_SEPARATOR_CELL = re.compile(r":?-{3,}:?")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_BULLET = re.compile(r"^(\s*)[*+](\s+)")
_QUOTE = re.compile(r"^ {0,3}>[ ]?")
# Markdown source per character of text that a paragraph (or file) may hold: markup is stripped,
# so the source may run longer than the text limits, but not without bound (parsing it takes time).
MARKUP_SLACK = 2
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.DOTALL)

_HTML_TAGS = (
    r"a|abbr|b|br|cite|code|del|div|em|i|img|ins|kbd|mark|p|q|s|small|span|strong|sub|sup|u|h[1-6]|hr"
    r"|details|summary|table|thead|tbody|tr|td|th|ul|ol|li|pre|blockquote|figure|figcaption"
)
# An HTML tag (dropped), as opposed to a type parameter such as ``<String>`` (kept).
_HTML_TAG = re.compile(rf"<!--|<[?!]|</?(?:{_HTML_TAGS})(?:[\s/>])", re.IGNORECASE)
# A line without any of these characters has no inline markup: skip the parser (most prose lines).
_INLINE_MARKUP = frozenset("*_[]`<>\\~&!")
# markdown-it-py parses inline markup in linear time (CommonMark's delimiter algorithm), where
# backtracking regexes for emphasis and links were quadratic in the line length.
_INLINE_PARSER = MarkdownIt("commonmark", {"html": True}).enable("strikethrough")


def strip_inline(text: str, references: dict[str, Any] | None = None) -> str:
    """Remove inline Markdown markup (emphasis, links, code ticks, known HTML tags), keeping the words.

    Code spans lose only their backticks: ``a*b*c`` or ``List<T>`` inside them is literal; a tag
    that is not HTML (``List<String>``) stays. Linear in the length of ``text``.

    Args:
        text: one line (or cell) of Markdown.
        references: link reference definitions of the document (``[label]: url``), so that
            ``[text][label]`` becomes ``text``.
    """
    if not _INLINE_MARKUP.intersection(text):
        return text
    env: dict[str, Any] = {"references": references} if references else {}
    out: list[str] = []
    for token in _INLINE_PARSER.parseInline(text, env)[0].children or []:
        if token.type in ("text", "code_inline"):
            out.append(token.content)
        elif token.type == "image":
            out.append(token.content)  # its alt text
        elif token.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif token.type == "html_inline" and not _is_html(token.content):
            out.append(token.content)
    return "".join(out)


def _is_html(tag: str) -> bool:
    return _HTML_TAG.match(tag) is not None


def _is_separator(line: str) -> bool:
    """A table's separator row: ``| --- | :---: |``, outer pipes optional."""
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return all(_SEPARATOR_CELL.fullmatch(cell.strip()) for cell in inner.split("|"))


def _heading(line: str) -> tuple[int, str] | None:
    """An ATX heading's level and text (closing hashes dropped), or None."""
    opened = _ATX.match(line)
    if opened is None:
        return None
    text = line[opened.end() :].strip(" \t")
    unclosed = text.rstrip("#")
    if not unclosed or unclosed.endswith((" ", "\t")):
        text = unclosed.rstrip(" \t")
    return len(opened.group(1)), text


def _front_title(front: str) -> str | None:
    for line in front.split("\n"):
        if line.startswith("title:"):
            value = line[len("title:") :].strip()
            value = value[1:] if value[:1] in "\"'" else value
            return value[:-1] if value[-1:] in "\"'" else value
    return None


def _references(lines: list[str]) -> dict[str, Any]:
    """Link reference definitions (``[label]: url``) in markdown-it's form, for ``strip_inline``."""
    found: dict[str, Any] = {}
    for line in lines:
        if line.lstrip(" ").startswith("[") and (definition := _LINK_DEF.match(line)):
            found.setdefault(normalizeReference(definition.group(1)), {"href": definition.group(2), "title": ""})
    return found


class _Lines:
    """The document's lines with what every step needs: link references and the parse budget."""

    def __init__(self, lines: list[str], budget: Budget) -> None:
        self.lines = lines
        self.budget = budget
        self.references = _references(lines)

    def strip(self, text: str) -> str:
        return strip_inline(text, self.references)


def _clean_line(line: str, doc: _Lines) -> str | None:
    """One body line without block markup; None when the line is pure markup."""
    if _LINK_DEF.match(line) or ("-" in line and _is_separator(line)):
        return None
    line = _BULLET.sub(r"\1-\2", line)
    stripped = line.strip()
    if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
        line = " | ".join(cell.strip() for cell in stripped[1:-1].split("|"))
    return doc.strip(line)


def _cells(line: str, doc: _Lines) -> list[str]:
    """A pipe-table row's cells: split on unescaped pipes, outer pipes dropped, markup stripped."""
    parts = _CELL_SPLIT.split(line.strip())
    if len(parts) > 1 and not parts[0].strip():
        parts = parts[1:]
    if len(parts) > 1 and not parts[-1].strip():
        parts = parts[:-1]
    return [doc.strip(part.strip()) for part in parts]


def _table_at(doc: _Lines, index: int) -> tuple[Table, int] | None:
    """The pipe table whose header row is ``lines[index]`` and where it ends, or None if none starts there.

    A table is a row with pipes, then a separator line with the same number of cells, then rows up to
    a blank line or a line without a pipe; rows are cut or padded to the header's width.
    """
    lines = doc.lines
    if index + 1 >= len(lines) or "|" not in lines[index] or "|" not in lines[index + 1]:
        return None
    head, separator = _QUOTE.sub("", lines[index]), _QUOTE.sub("", lines[index + 1])
    if "|" not in head or "|" not in separator or not _is_separator(separator):
        return None
    header = _cells(head, doc)
    if len(header) != len(_cells(separator, doc)):
        return None
    rows = [header]
    # Shaping repeats the headers on every row: bound that text before it is built.
    per_row = sum(len(cell) for cell in header)
    shaped = 0
    end = index + 2
    while end < len(lines) and "|" in (line := _QUOTE.sub("", lines[end])) and not _FENCE.match(line):
        rows.append(_cells(line, doc)[: len(header)])
        shaped += per_row + len(line)
        doc.budget.section(shaped)
        end += 1
    return make_table(rows, header_rows=1), end


def _blocks(doc: _Lines) -> Iterator[Block]:
    """The document's blocks in order, made one at a time so that the budget stops a parse early."""
    lines = doc.lines
    paragraph: list[str] = []
    fence: str | None = None
    index = 0
    source = 0  # characters of Markdown in the current paragraph
    while index < len(lines):
        doc.budget.check_time()
        raw = lines[index]
        index += 1
        source = source + len(raw) if paragraph else len(raw)
        if source > MARKUP_SLACK * doc.budget.limits.max_page_chars:
            raise InvalidRequestError(
                f"{doc.budget.name}: a paragraph near line {index:,} has more than {source:,} characters of "
                f"Markdown; the limit is {MARKUP_SLACK * doc.budget.limits.max_page_chars:,}. "
                "Check that the file is a real document (not a data dump) or split it."
            )
        if fence is None and (found := _table_at(doc, index - 1)):
            yield from _flush(paragraph)
            table, index = found
            yield Block(shape_table(table))
            continue
        if fence is not None:  # inside a code block everything is literal text
            if raw.strip().startswith(fence):
                fence = None
                yield from _flush(paragraph)
            else:
                paragraph.append(raw)
            continue
        line = _QUOTE.sub("", raw)
        if opened := _FENCE.match(line):
            yield from _flush(paragraph)
            fence = opened.group(1)
            continue
        if not line.strip() or (_RULE.match(line) and not (paragraph and _SETEXT.match(line))):
            yield from _flush(paragraph)
            continue
        if paragraph and (setext := _SETEXT.match(line)):
            yield Block(" ".join(paragraph), level=1 if setext.group(1)[0] == "=" else 2)
            paragraph.clear()
            continue
        if heading := _heading(line):
            yield from _flush(paragraph)
            yield Block(doc.strip(heading[1]), level=heading[0])
            continue
        cleaned = _clean_line(line, doc)
        if cleaned is not None:
            paragraph.append(cleaned)
    yield from _flush(paragraph)


def _flush(paragraph: list[str]) -> Iterator[Block]:
    if paragraph:
        yield Block("\n".join(paragraph))
        paragraph.clear()


def parse_markdown(data: bytes, filename: str, limits: ParseLimits | None = None) -> Document:
    """Parse a Markdown file into heading-aware sections, in time linear in its size.

    Args:
        data: the file's bytes.
        filename: the file's name; its stem is the title when there is no H1.
        limits: bounds on text per section, in all and on parse time (defaults: ``ParseLimits()``).

    Returns:
        A Document whose heading sections carry their level and whose body sections carry the
        nearest heading. The title is the front-matter title, else the first H1, else the file stem.

    Raises:
        CorruptDocumentError: the bytes are not text.
        EmptyDocumentError: nothing but markup or whitespace.
        InvalidRequestError: more text or parse time than ``limits`` allow.
    """
    budget = Budget(limits or ParseLimits(), base_name(filename))
    text = decode_text(data, filename).replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MARKUP_SLACK * budget.limits.max_chars:
        raise InvalidRequestError(
            f"{budget.name}: {len(text):,} characters of Markdown; the limit is "
            f"{MARKUP_SLACK * budget.limits.max_chars:,}. Split the document into smaller files."
        )
    title: str | None = None
    if front := _FRONT_MATTER.match(text):
        # YAML front matter is metadata, not prose; keep only its title.
        title = _front_title(front.group(1))
        text = text[front.end() :]
    doc = _Lines(text.split("\n"), budget)
    return build_document(_blocks(doc), filename=filename, fmt="markdown", title=title, budget=budget)
