"""Tables as text a reader and a retriever can use: each data row with its row label and column headers.

A parser fills a ``Table`` from its format's grid; ``shape_table`` writes one line per data row,
``Revenue — Q1 2024: 1,204; Q1 2023: 1,010.``, so a chunk holding any row still says what each number
is. ``cell_label_coverage`` measures how much of that survives in a parser's output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: Between a row label and its values, and between a value and the next one.
LABEL_SEP = " — "
VALUE_SEP = "; "
#: Leading rows that may form a guessed header (more is a table of text, not a header).
MAX_GUESSED_HEADER_ROWS = 3

_VALUE = re.compile(r"^[(+\-−–]?\s*[$€£¥]?\s*[(+\-−–]?\s*\d[\d,.\s]*\)?\s*(?:%|[A-Za-z]{1,3}\.?)?\)?$")
_DASH = re.compile(r"^[-−–—]+$")
_YEAR = re.compile(r"^(?:FY\s?)?(?:19|20)\d\d$")
_WORD = re.compile(r"\w+")
_CURRENCY = frozenset("$€£¥")
_SENTENCE_END = (".", "!", "?", ":")


@dataclass(frozen=True, slots=True)
class Table:
    """A table's cells, row by row, as a parser read them.

    Attributes:
        rows: cell texts; ``None`` marks a grid position covered by the cell to its left (a column
            span), so a spanning header names every column under it while a spanning value counts once.
        header_rows: how many leading rows are column headers (0: none known).
        caption: the table's caption or title, "" when it has none.
    """

    rows: tuple[tuple[str | None, ...], ...]
    header_rows: int = 0
    caption: str = ""


def _clean(cell: str | None) -> str | None:
    return None if cell is None else " ".join(cell.split())


def make_table(rows: Sequence[Sequence[str | None]], *, header_rows: int = 0, caption: str = "") -> Table:
    """A tidy Table: whitespace collapsed, ragged rows padded, empty rows and columns dropped.

    A lone currency sign in a data cell (``$`` | ``1,204``, common in filings) joins the value to its right.
    """
    width = max((len(row) for row in rows), default=0)
    grid: list[list[str | None]] = []
    headers = 0
    for index, row in enumerate(rows):
        cells = [_clean(cell) for cell in row] + [""] * (width - len(row))
        if not any(cells):
            continue
        if index < header_rows:
            headers += 1
        else:
            _join_currency(cells)
        grid.append(cells)
    keep = [c for c in range(width) if any(row[c] for row in grid)]
    shaped = tuple(tuple(row[c] for c in keep) for row in grid)
    return Table(rows=shaped, header_rows=min(headers, len(shaped)), caption=" ".join(caption.split()))


def _join_currency(cells: list[str | None]) -> None:
    for c in range(len(cells) - 1):
        sign = cells[c]
        if sign and sign in _CURRENCY and (value := cells[c + 1]) and is_value(value):
            cells[c], cells[c + 1] = "", sign + value


def is_value(cell: str) -> bool:
    """True for a number-like cell: ``1,204``, ``(12.5)``, ``$ 3``, ``7%``, ``500 g``, or a dash for nil."""
    return bool(_VALUE.match(cell) or _DASH.match(cell))


def is_year(cell: str) -> bool:
    """True for a year used as a column header: ``2024``, ``FY2024``."""
    return bool(_YEAR.match(cell))


def guess_header_rows(rows: Sequence[Sequence[str | None]], *, text_only: int = 1) -> int:
    """How many leading rows look like headers when the format does not say.

    Leading rows with text beyond the first column and no number in it (years allowed) are headers
    when a later row holds numbers; a table without numbers gets ``text_only`` header rows (0 or 1).
    """
    if len(rows) < 2:
        return 0

    def numbers(row: Sequence[str | None]) -> bool:
        return any(cell and is_value(cell) and not is_year(cell) for cell in row[1:])

    count = 0
    for row in rows[:MAX_GUESSED_HEADER_ROWS]:
        if numbers(row) or not any(row[1:]):
            break
        count += 1
    if count == len(rows) or not any(numbers(row) for row in rows[count:]):
        return min(text_only, 1) if any(rows[0][1:]) else 0
    return count


def _header_parts(table: Table) -> tuple[list[str], list[list[str]]]:
    """Title parts (full-width header rows) and, per column, its header cells top to bottom."""
    width = len(table.rows[0]) if table.rows else 0
    titles: list[str] = []
    columns: list[list[str]] = [[] for _ in range(width)]
    for row in table.rows[: table.header_rows]:
        if width > 1 and row[0] and all(cell is None for cell in row[1:]):
            titles.append(row[0])
            continue
        current = ""
        for c, cell in enumerate(row):
            current = current if cell is None else cell.rstrip(":").strip()
            parts = columns[c]
            if current and (not parts or parts[-1] != current):
                parts.append(current)
    return titles, columns


def _data_line(row: Sequence[str | None], headers: Sequence[str]) -> str:
    label = row[0] or ""
    pairs = zip(row[1:], headers[1:], strict=True)
    values = [f"{header}: {cell}" if header else cell for cell, header in pairs if cell]
    line = (label + LABEL_SEP if label and values else label) + VALUE_SEP.join(values)
    return line if not line or line.endswith(_SENTENCE_END) else line + "."


def shape_table(table: Table) -> str:
    """The table as lines of text: the title first, then one line per data row.

    With headers, a row reads ``<row label> — <column header>: <value>; <column header>: <value>.``
    (a column's header rows joined with ", "; empty cells left out; the first column's header joins
    the title). Without headers each row is ``a | b | c``. Linear in the number of cells.
    """
    if not table.rows:
        return table.caption
    width = len(table.rows[0])
    if table.header_rows == 0 or width < 2:
        body = [" | ".join(cell for cell in row if cell) for row in table.rows]
        return "\n".join(line for line in [table.caption, *body] if line)
    titles, columns = _header_parts(table)
    headers = [", ".join(parts) for parts in columns]
    title = LABEL_SEP.join(part for part in [table.caption, *titles, headers[0]] if part)
    lines = [title] if title else []
    for row in table.rows[table.header_rows :]:
        if line := _data_line(row, headers):
            lines.append(line)
    return "\n".join(lines)


def cell_label_coverage(shaped_text: str, table: Table) -> float:
    """Share of non-empty data cells whose value shares a line of ``shaped_text`` with its labels.

    A data cell is any cell of a data row after the first column (the row label); its labels are the
    row label (when not empty) and every header cell above it. Whitespace is compared collapsed. A
    table with no data cell scores 1.0. Lines are found through a word index (a value must start and
    end on word boundaries: "12" is not found inside "1,204"), so the cost stays near linear.
    """
    lines = [" ".join(line.split()) for line in shaped_text.splitlines()]
    index: dict[str, list[int]] = {}
    for number, line in enumerate(lines):
        for word in set(_WORD.findall(line)):
            index.setdefault(word, []).append(number)
    everywhere = range(len(lines))

    def candidates(*needles: str) -> Sequence[int]:
        postings = [index.get(word, []) for needle in needles for word in _WORD.findall(needle)]
        return min(postings, key=len) if postings else everywhere

    _, columns = _header_parts(table)
    total = kept = 0
    for row in table.rows[table.header_rows :]:
        label = row[0] or ""
        for c in range(1, len(row)):
            value = row[c]
            if not value:
                continue
            total += 1
            needed = [part for part in (label, *columns[c]) if part]
            found = any(
                all(part in lines[i] for part in needed) and _bounded(lines[i], value) for i in candidates(label, value)
            )
            kept += found
    return kept / total if total else 1.0


def _bounded(line: str, value: str) -> bool:
    """``value`` occurs in ``line`` not glued to more of a word or number ("1" is not in "1,204")."""
    at = line.find(value)
    while at >= 0:
        if not _glued(line, at - 1, -1, value[0]) and not _glued(line, at + len(value), 1, value[-1]):
            return True
        at = line.find(value, at + 1)
    return False


def _glued(line: str, at: int, step: int, edge: str) -> bool:
    """Whether the character at ``at`` continues the word or number whose edge character is ``edge``."""
    if not 0 <= at < len(line) or not edge.isalnum():
        return False
    char, beyond = line[at], line[at + step] if 0 <= at + step < len(line) else ""
    return char.isalnum() or (edge.isdigit() and char in ",." and beyond.isdigit())
