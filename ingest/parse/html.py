"""HTML parser on the stdlib ``html.parser``: visible text only, block elements as paragraphs, tables shaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ingest.parse._text import Block, base_name, build_document, decode_text
from ingest.parse.html_tables import HtmlTable
from ingest.parse.limits import Budget, ParseLimits
from ingest.parse.tables import shape_table
from kernel.models import Document

# Content a reader never sees as prose: code, styling, navigation chrome, embedded media.
_SKIP = frozenset({"script", "style", "nav", "noscript", "template", "svg", "iframe", "object", "canvas"})
_BLOCK = frozenset(
    {
        *("p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "pre"),
        *("ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "caption"),
        *("figure", "figcaption", "form", "fieldset", "address", "hr", "body", "details", "summary"),
    }
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_CELLS = frozenset({"td", "th"})
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


class _Extractor(HTMLParser):
    """Collects paragraph and heading blocks in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title_parts: list[str] = []
        self._text: list[str] = []
        self._skip_depth = 0
        self._in_head = False
        self._in_title = False
        self._pre_depth = 0
        self._heading_level = 0
        self._table: HtmlTable | None = None
        self._nested_tables = 0  # tables inside a cell of self._table: their text joins that cell

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
        elif self._table is not None:
            self._table_tag(self._table, tag, attrs)
        elif tag == "table" and not self._skip_depth:
            self._end_head()
            self._flush()
            self._table = HtmlTable()
        elif tag == "head":
            self._in_head = True
        elif tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._end_head()
            self._flush()
            self._heading_level = _HEADINGS[tag]
        elif tag in _BLOCK:
            self._end_head()
            self._flush()
            self._pre_depth += tag == "pre"
        elif tag == "br":
            self._text.append("\n")
        elif tag in _CELLS:
            self._text.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # Self-closing forms (<br/>, <hr/>) never open a region, so only their break matters.
        if self._table is not None:
            self._table.text(" ")
        elif tag == "br":
            self._text.append("\n")
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif self._table is not None:
            self._table_end_tag(self._table, tag)
        elif tag == "head":
            self._in_head = False
        elif tag == "title":
            self._in_title = False
        elif tag in _HEADINGS or tag in _BLOCK:
            self._flush()
            self._pre_depth = max(0, self._pre_depth - (tag == "pre"))
        elif tag in _CELLS:
            self._text.append(" ")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_title:
            self.title_parts.append(data)
        elif self._table is not None:
            if not self._table.text(_space(data)):
                self._text.append(_space(data))  # stray text in a table: browsers show it before the table
        elif not self._in_head:
            # Outside <pre>, HTML whitespace (newlines included) is just a space.
            self._text.append(data if self._pre_depth else _space(data))

    def close(self) -> None:
        super().close()
        self._end_table()

    def _table_tag(self, table: HtmlTable, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._nested_tables += 1
        elif self._nested_tables:
            table.text(" ")  # a nested table is flattened into the cell around it
        elif tag == "tr":
            table.start_row()
        elif tag in _CELLS:
            table.start_cell(tag, attrs)
        elif tag == "thead":
            table.end_row()
            table.in_head = True
        elif tag in ("tbody", "tfoot"):
            table.end_row()
            table.in_head = False
        elif tag == "caption":
            table.in_caption = True
        else:
            table.text(" ")  # paragraphs, line breaks, lists inside a cell are just space

    def _table_end_tag(self, table: HtmlTable, tag: str) -> None:
        if tag == "table" and self._nested_tables:
            self._nested_tables -= 1
        elif tag == "table":
            self._end_table()
        elif self._nested_tables:
            table.text(" ")
        elif tag == "tr":
            table.end_row()
        elif tag in _CELLS:
            table.end_cell()
        elif tag == "thead":
            table.end_row()
            table.in_head = False
        elif tag == "caption":
            table.in_caption = False
        else:
            table.text(" ")

    def _end_table(self) -> None:
        """Close the open table (if any) into one block, after any stray text it held."""
        table, self._table, self._nested_tables = self._table, None, 0
        self._flush()
        if table is not None:
            self.blocks.append(Block(shape_table(table.table())))

    def _end_head(self) -> None:
        # Browsers close an unclosed <head> at the first body content; so do we.
        self._in_head = False

    def _flush(self) -> None:
        text = "".join(self._text)
        self._text.clear()
        if text.strip():
            self.blocks.append(Block(text, level=self._heading_level))
        self._heading_level = 0


def _space(data: str) -> str:
    """Collapse HTML whitespace to single spaces but keep a boundary space at either end."""
    inner = " ".join(data.split())
    if not inner:
        return " "
    return (" " if data[0].isspace() else "") + inner + (" " if data[-1].isspace() else "")


def parse_html(data: bytes, filename: str, limits: ParseLimits | None = None) -> Document:
    """Parse an HTML page into its visible text.

    Args:
        data: the page's bytes; a ``<meta charset>`` is honoured when the bytes are not UTF-8.
        filename: the file's name; its stem is the title when there is no ``<title>`` or ``<h1>``.
        limits: bounds on text per section and in all (defaults: ``ParseLimits()``).

    Returns:
        A Document with one section per block element; h1-h6 become heading sections; each table is
        one section, its rows shaped with their labels (see ``ingest.parse.tables``).

    Raises:
        CorruptDocumentError: the bytes are not text.
        EmptyDocumentError: no visible text.
        InvalidRequestError: more text than ``limits`` allow.
    """
    declared = _CHARSET.search(data[:4096])
    text = decode_text(data, filename, declared=declared.group(1).decode("ascii") if declared else None)
    parser = _Extractor()
    parser.feed(text)
    parser.close()
    title = "".join(parser.title_parts).strip() or next(
        (b.text for b in parser.blocks if b.level == 1 and b.text.strip()), None
    )
    return build_document(
        parser.blocks,
        filename=filename,
        fmt="html",
        title=title,
        budget=Budget(limits or ParseLimits(), base_name(filename)),
    )
