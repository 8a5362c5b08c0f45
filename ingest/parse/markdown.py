"""Markdown parser: heading-aware sections, inline markup stripped, code and lists kept as text, tables shaped."""

from __future__ import annotations

import re

from ingest.parse._text import Block, build_document, decode_text
from ingest.parse.tables import Table, make_table, shape_table
from kernel.models import Document

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LINK_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s+\S+")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_BULLET = re.compile(r"^(\s*)[*+](\s+)")
_QUOTE = re.compile(r"^ {0,3}>[ ]?")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE)

_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")
_PARKED = 0xF0000  # Supplementary Private Use Area-A; never real text in a Markdown file
_PARKED_CHAR = re.compile("[\U000f0000-\U000f007f]")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_HTML_TAGS = (
    r"a|abbr|b|br|cite|code|del|div|em|i|img|ins|kbd|mark|p|q|s|small|span|strong|sub|sup|u|h[1-6]|hr"
    r"|details|summary|table|thead|tbody|tr|td|th|ul|ol|li|pre|blockquote|figure|figcaption"
)
# Inline markup, applied in order; each keeps the visible text and drops only the markup.
_INLINE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"<!--.*?-->", re.DOTALL), ""),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # link -> link text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference link
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),  # autolink
    (re.compile(rf"</?(?:{_HTML_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE), ""),  # inline HTML, not List<T>
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
]


def strip_inline(text: str) -> str:
    """Remove inline Markdown markup (emphasis, links, code ticks), keeping the words.

    Code spans lose only their backticks: ``a*b*c`` or ``List<T>`` inside them is literal.
    """
    out: list[str] = []
    pos = 0
    for code in _CODE_SPAN.finditer(text):
        out += [_strip_markup(text[pos : code.start()]), code.group(2)]
        pos = code.end()
    out.append(_strip_markup(text[pos:]))
    return "".join(out)


def _strip_markup(text: str) -> str:
    # Escaped characters are parked in a private-use plane so no pattern treats them as markup.
    text = _ESCAPE.sub(lambda m: chr(_PARKED + ord(m.group(1))), text)
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return _PARKED_CHAR.sub(lambda m: chr(ord(m.group()) - _PARKED), text)


def _clean_line(line: str) -> str | None:
    """One body line without block markup; None when the line is pure markup."""
    if _LINK_DEF.match(line) or _TABLE_SEPARATOR.match(line):
        return None
    line = _BULLET.sub(r"\1-\2", line)
    stripped = line.strip()
    if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
        line = " | ".join(cell.strip() for cell in stripped[1:-1].split("|"))
    return strip_inline(line)


def _cells(line: str) -> list[str]:
    """A pipe-table row's cells: split on unescaped pipes, outer pipes dropped, markup stripped."""
    parts = _CELL_SPLIT.split(line.strip())
    if len(parts) > 1 and not parts[0].strip():
        parts = parts[1:]
    if len(parts) > 1 and not parts[-1].strip():
        parts = parts[:-1]
    return [strip_inline(part.strip()) for part in parts]


def _table_at(lines: list[str], index: int) -> tuple[Table, int] | None:
    """The pipe table whose header row is ``lines[index]`` and where it ends, or None if none starts there.

    A table is a row with pipes, then a separator line with the same number of cells, then rows up to
    a blank line or a line without a pipe; rows are cut or padded to the header's width.
    """
    if index + 1 >= len(lines):
        return None
    head, separator = _QUOTE.sub("", lines[index]), _QUOTE.sub("", lines[index + 1])
    if "|" not in head or "|" not in separator or not _TABLE_SEPARATOR.match(separator):
        return None
    header = _cells(head)
    if len(header) != len(_cells(separator)):
        return None
    rows = [header]
    end = index + 2
    while end < len(lines) and "|" in (line := _QUOTE.sub("", lines[end])) and not _FENCE.match(line):
        rows.append(_cells(line)[: len(header)])
        end += 1
    return make_table(rows, header_rows=1), end


def _blocks(lines: list[str]) -> list[Block]:
    blocks: list[Block] = []
    paragraph: list[str] = []
    fence: str | None = None

    def flush() -> None:
        if paragraph:
            blocks.append(Block("\n".join(paragraph)))
            paragraph.clear()

    index = 0
    while index < len(lines):
        raw = lines[index]
        index += 1
        if fence is None and (found := _table_at(lines, index - 1)):
            flush()
            table, index = found
            blocks.append(Block(shape_table(table)))
            continue
        if fence is not None:  # inside a code block everything is literal text
            if raw.strip().startswith(fence):
                fence = None
                flush()
            else:
                paragraph.append(raw)
            continue
        line = _QUOTE.sub("", raw)
        if opened := _FENCE.match(line):
            flush()
            fence = opened.group(1)
            continue
        if not line.strip() or (_RULE.match(line) and not (paragraph and _SETEXT.match(line))):
            flush()
            continue
        if paragraph and (setext := _SETEXT.match(line)):
            blocks.append(Block(" ".join(paragraph), level=1 if setext.group(1)[0] == "=" else 2))
            paragraph.clear()
            continue
        if heading := _ATX.match(line):
            flush()
            blocks.append(Block(strip_inline(heading.group(2) or ""), level=len(heading.group(1))))
            continue
        cleaned = _clean_line(line)
        if cleaned is not None:
            paragraph.append(cleaned)
    flush()
    return blocks


def parse_markdown(data: bytes, filename: str) -> Document:
    """Parse a Markdown file into heading-aware sections.

    Args:
        data: the file's bytes.
        filename: the file's name; its stem is the title when there is no H1.

    Returns:
        A Document whose heading sections carry their level and whose body sections carry the
        nearest heading. The title is the front-matter title, else the first H1, else the file stem.

    Raises:
        CorruptDocumentError: the bytes are not text.
        EmptyDocumentError: nothing but markup or whitespace.
    """
    text = decode_text(data, filename).replace("\r\n", "\n").replace("\r", "\n")
    title: str | None = None
    if front := _FRONT_MATTER.match(text):
        # YAML front matter is metadata, not prose; keep only its title.
        if found := _FRONT_TITLE.search(front.group(1)):
            title = found.group(1)
        text = text[front.end() :]
    blocks = _blocks(text.split("\n"))
    if title is None:
        title = next((b.text for b in blocks if b.level == 1 and b.text.strip()), None)
    return build_document(blocks, filename=filename, fmt="markdown", title=title)
