"""An HTML table read into a Table: rows, th/thead headers, caption, colspan and rowspan on one grid."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.parse.tables import Table, guess_header_rows, make_table

#: Spans beyond these are treated as these: a hostile colspan must not make a million-column grid.
MAX_COLSPAN = 100
MAX_ROWSPAN = 1000


@dataclass(slots=True)
class _Cell:
    parts: list[str]
    header: bool
    colspan: int
    rowspan: int


@dataclass(slots=True)
class _Pending:
    """A cell from a row above that still covers a column: rows left, and its text (None: a column span)."""

    rows: int
    text: str | None


def _span(attrs: list[tuple[str, str | None]], name: str, limit: int) -> int:
    value = dict(attrs).get(name) or "1"
    try:
        return max(1, min(int(value.strip()), limit))
    except ValueError:
        return 1


@dataclass(slots=True)
class HtmlTable:
    """A table being read tag by tag; ``table()`` gives the finished grid.

    Rows of the thead, and leading rows made only of th cells, are header rows; without either, a
    header is guessed only when the table holds numbers (a layout table of text gets none).
    """

    rows: list[list[str | None]] = field(default_factory=list)
    header_flags: list[bool] = field(default_factory=list)
    caption: list[str] = field(default_factory=list)
    in_caption: bool = False
    in_head: bool = False
    _row: list[_Cell] | None = None
    _cell: _Cell | None = None
    _pending: dict[int, _Pending] = field(default_factory=dict)

    def start_row(self) -> None:
        """A ``<tr>``: ends the row before, if still open."""
        self.end_row()
        self._row = []

    def start_cell(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A ``<td>`` or ``<th>``; a cell outside any ``<tr>`` opens a row."""
        self.end_cell()
        if self._row is None:
            self._row = []
        self._cell = _Cell([], tag == "th", _span(attrs, "colspan", MAX_COLSPAN), _span(attrs, "rowspan", MAX_ROWSPAN))

    def text(self, data: str) -> bool:
        """Take text for the open cell or caption; False when the table has no place for it."""
        if self.in_caption:
            self.caption.append(data)
        elif self._cell is not None:
            self._cell.parts.append(data)
        else:
            return False
        return True

    def end_cell(self) -> None:
        """A ``</td>`` or ``</th>`` (also implied by the next cell or row)."""
        if self._cell is not None and self._row is not None:
            self._row.append(self._cell)
        self._cell = None

    def end_row(self) -> None:
        """A ``</tr>``: places the row's cells on the grid, around cells spanning down from above."""
        self.end_cell()
        if self._row is None:
            return
        cells, self._row = self._row, None
        grid: list[str | None] = []
        named = [cell.header for cell in cells if "".join(cell.parts).strip()]
        for cell in cells:
            self._fill_pending(grid)
            text = " ".join("".join(cell.parts).split())
            for offset in range(cell.colspan):
                column = len(grid)
                grid.append(text if offset == 0 else None)
                if cell.rowspan > 1:
                    self._pending[column] = _Pending(cell.rowspan, grid[-1])
        self._fill_pending(grid, to_end=True)
        for column in list(self._pending):  # every span loses this row, even one a wider cell overlapped
            self._pending[column].rows -= 1
            if self._pending[column].rows <= 0:
                del self._pending[column]
        self.rows.append(grid)
        # A header row: in the thead, or a row whose cells with text are all th (an empty corner td is fine).
        self.header_flags.append(self.in_head or (any(cell.header for cell in cells) and all(named)))

    def _fill_pending(self, grid: list[str | None], *, to_end: bool = False) -> None:
        """Append the cells spanning down into this row at its current end (to_end: and beyond)."""
        while (pending := self._pending.get(len(grid))) is not None or (to_end and self._beyond(len(grid))):
            grid.append("" if pending is None else pending.text)

    def _beyond(self, column: int) -> bool:
        return any(c > column for c in self._pending)

    def table(self) -> Table:
        """The finished table (rows still open are closed)."""
        self.end_row()
        header_rows = 0
        while header_rows < len(self.rows) and self.header_flags[header_rows]:
            header_rows += 1
        if header_rows == len(self.rows):  # only header cells: a list of names, not a header
            header_rows = 0
        elif header_rows == 0:
            header_rows = guess_header_rows(self.rows, text_only=0)
        return make_table(self.rows, header_rows=header_rows, caption=" ".join("".join(self.caption).split()))
