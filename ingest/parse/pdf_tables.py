"""Simple tables recovered from a PDF page's text layer: lines of positioned words to shaped rows.

Pure functions over the characters and boxes PDFium reports (see ``ingest.parse.pdf``). A table is a
run of lines whose words fall into three or more column bands with numbers in them; the header is
the line or two right above it whose words sit over those bands. A table that reaches the end of a
page and continues on the next with as many columns takes its header along. Anything less certain
is left exactly as PDFium wrote it: prose pages never change.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ingest.parse.tables import Table, is_value, is_year, make_table, shape_table

Box = tuple[float, float, float, float]  # left, bottom, right, top, as pypdfium2's get_charbox
HeaderRows = tuple[tuple[str | None, ...], ...]

#: A gap wider than this many glyph heights separates two cells (a word space is about half one).
CELL_GAP = 1.5
#: Lines above a table that may be its header, and lines of a page around a table that continues.
MAX_HEADER_LINES = 3
MAX_MARGIN_LINES = 3
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TOLERANCE = 2.0  # points of slack when comparing positions


class Segment(NamedTuple):
    """Words of one line set close together: one cell."""

    text: str
    left: float
    right: float


class Line(NamedTuple):
    """One visual line: its text as PDFium wrote it, and its cells (none when its geometry is unusable)."""

    text: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Continued:
    """A table that ran to the end of a page: its column count and header, for the next page."""

    columns: int
    header: HeaderRows


def _numbers(segments: Sequence[Segment]) -> int:
    return sum(1 for s in segments if is_value(s.text) and not is_year(s.text) and any(c.isdigit() for c in s.text))


def might_hold_table(text: str) -> bool:
    """Cheap test on the plain text: two lines with two numbers each, before any geometry is read."""
    lines = 0
    for line in _LINE_BREAK.split(text):
        tokens = line.split()
        if sum(1 for t in tokens if is_value(t) and not is_year(t)) >= 2:
            lines += 1
            if lines >= 2:
                return True
    return False


def page_lines(text: str, boxes: Sequence[Box]) -> list[Line]:
    """Split the page text into lines and each line into cells at wide gaps between its glyphs.

    ``boxes[i]`` is the box of ``text[i]``. PDFium sometimes breaks a line before a far-off cell; lines
    that go on to the right on the same baseline are joined again (their text keeps the break). A line
    whose glyphs run backwards (overprinted, or two lines PDFium ran together) gets no cells.
    """
    heights = [b[3] - b[1] for ch, b in zip(text, boxes, strict=True) if not ch.isspace() and b[3] > b[1]]
    gap = CELL_GAP * statistics.median(heights) if heights else 0.0
    groups: list[tuple[list[str], list[int]]] = []  # raw lines and glyph indexes of each visual line
    start = 0
    for match in [*_LINE_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        glyphs = [i for i in range(start, end) if not text[i].isspace()]
        if groups and groups[-1][1] and glyphs and _goes_on(boxes[groups[-1][1][-1]], boxes[glyphs[0]]):
            groups[-1][0].append(text[start:end])
            groups[-1][1].extend(glyphs)
        else:
            groups.append(([text[start:end]], glyphs))
        start = match.end() if match else end
    return [Line("\n".join(raw), _segments(text, boxes, glyphs, gap)) for raw, glyphs in groups]


def _goes_on(last: Box, first: Box) -> bool:
    """Whether a glyph starting a line sits on the same baseline as, and right of, the last one."""
    height = max(last[3] - last[1], first[3] - first[1], 1.0)
    return abs(first[1] - last[1]) < height / 2 and first[0] >= last[2] - _TOLERANCE


def _segments(text: str, boxes: Sequence[Box], glyphs: Sequence[int], gap: float) -> tuple[Segment, ...]:
    if not glyphs or gap <= 0:
        return ()
    out: list[Segment] = []
    first = previous = glyphs[0]
    for i in [*glyphs[1:], None]:
        if i is not None and boxes[i][0] < boxes[previous][2] - gap:
            return ()  # runs backwards: not a line we can read as cells
        if i is None or boxes[i][0] - boxes[previous][2] > gap:
            words = " ".join(text[first : previous + 1].split())
            out.append(Segment(words, boxes[first][0], boxes[previous][2]))
            if i is not None:
                first = i
        if i is not None:
            previous = i
    return tuple(out)


def _strong(line: Line) -> bool:
    """A table row for sure: three or more cells, mostly numbers, at least two."""
    rest = line.segments[1:]
    return len(line.segments) >= 3 and _numbers(rest) >= max(2, (len(rest) + 1) // 2)


def _weak(line: Line) -> bool:
    """Could be a row inside a table: a label and a number, or a label alone."""
    return (len(line.segments) >= 2 and _numbers(line.segments[1:]) >= 1) or len(line.segments) == 1


def _bands(rows: Sequence[Line]) -> list[tuple[float, float]]:
    """Value columns: the overlapping spans of every cell after the first, merged."""
    spans = sorted((s.left, s.right) for line in rows for s in line.segments[1:])
    bands: list[tuple[float, float]] = []
    for left, right in spans:
        if bands and left <= bands[-1][1] + _TOLERANCE:
            bands[-1] = (bands[-1][0], max(bands[-1][1], right))
        else:
            bands.append((left, right))
    return bands


def _place(segments: Sequence[Segment], bands: Sequence[tuple[float, float]], *, spans: bool) -> list[str | None]:
    """Cells on the grid: column 0 left of the first band, else the band a segment overlaps most.

    With ``spans`` (header lines) a segment over several bands names each (text, then None).
    """
    cells: list[str | None] = [""] * (len(bands) + 1)
    for segment in segments:
        if segment.right <= bands[0][0] + _TOLERANCE:
            columns = [0]
        else:
            overlaps = [min(segment.right, r) - max(segment.left, left) for left, r in bands]
            columns = [k + 1 for k, o in enumerate(overlaps) if o > 0]
            if not columns or not spans:
                middle = (segment.left + segment.right) / 2
                columns = [1 + min(range(len(bands)), key=lambda k: abs((bands[k][0] + bands[k][1]) / 2 - middle))]
        head = columns[0]
        cells[head] = f"{cells[head]} {segment.text}".strip()
        for k in columns[1:]:
            if not cells[k]:
                cells[k] = None
    return cells


def _header_line(line: Line, bands: Sequence[tuple[float, float]], labels_end: float) -> bool:
    """Words over the value columns and no number; no run of words from the labels into the values."""
    if not line.segments or _numbers(line.segments):
        return False
    first = bands[0][0]
    if any(s.left < labels_end and s.right > first + _TOLERANCE for s in line.segments):
        return False  # a sentence running across the columns
    return any(s.right > first for s in line.segments)


def _label_line(segments: Sequence[Segment], bands: Sequence[tuple[float, float]]) -> bool:
    """One cell left of the value columns: a row label, or a group label such as "Operating expenses:"."""
    return len(segments) == 1 and segments[0].right <= bands[0][0] + _TOLERANCE


def _run(lines: Sequence[Line], start: int) -> int:
    """End of the rows from the strong row at ``start``.

    Lines with one cell may sit inside (group labels), two at most in a row, never at the end.
    """
    end = start + 1
    single = 0
    index = start
    while index < len(lines) and single <= 2 and (_strong(lines[index]) or _weak(lines[index])):
        if len(lines[index].segments) == 1:
            single += 1
        else:
            single = 0
            end = index + 1
        index += 1
    return end


@dataclass(frozen=True, slots=True)
class _Found:
    top: int  # first header line
    end: int  # after the last row
    table: Table
    continued: Continued


def _table_at(lines: Sequence[Line], index: int, end: int, done: int, carried: Continued | None) -> _Found | None:
    """The table whose rows are ``lines[index:end]`` (``_run``), with its header, or None if unsure."""
    strong = sum(1 for line in lines[index:end] if _strong(line))
    bands = _bands([line for line in lines[index:end] if len(line.segments) >= 2])
    if len(bands) < 2:
        return None
    labels = [line.segments[0].right for line in lines[index:end] if _label_line(line.segments[:1], bands)]
    labels_end = max(labels, default=bands[0][0])
    lead = index  # a group label between the header and the first row belongs to the table
    if (
        lead - 2 >= done
        and _label_line(lines[lead - 1].segments, bands)
        and _header_line(lines[lead - 2], bands, labels_end)
    ):
        lead -= 1
    top = lead
    while top > max(done, lead - MAX_HEADER_LINES) and _header_line(lines[top - 1], bands, labels_end):
        top -= 1
    header: HeaderRows = tuple(tuple(_place(lines[i].segments, bands, spans=True)) for i in range(top, lead))
    needed = 2
    # The first table near the top of a page, without a header of its own, may continue the last page's.
    if not header and carried is not None and index <= MAX_MARGIN_LINES and carried.columns == len(bands) + 1:
        header, needed = carried.header, 1
    if not header or strong < needed:
        return None
    body = [_place(line.segments, bands, spans=False) for line in lines[lead:end]]
    table = make_table([*header, *body], header_rows=len(header))
    return _Found(top, end, table, Continued(len(bands) + 1, header))


def shape_page(lines: Sequence[Line], carried: Continued | None) -> tuple[str | None, Continued | None]:
    """The page text with its tables shaped, and the table that runs on to the next page if any.

    The text is None when no table was found: then PDFium's own text stands, unchanged.
    """
    out: list[str] = []
    done = 0  # lines before this one are in out
    continued: Continued | None = None
    index = 0
    while index < len(lines):
        if not _strong(lines[index]):
            index += 1
            continue
        end = _run(lines, index)
        found = _table_at(lines, index, end, done, carried if not out else None)
        if found is None:
            index = end  # each line is looked at a bounded number of times
            continue
        out += [line.text for line in lines[done : found.top]] + [shape_table(found.table)]
        done = index = found.end
        continued = found.continued if len(lines) - found.end <= MAX_MARGIN_LINES else None
    if not out:
        return None, None
    out += [line.text for line in lines[done:]]
    return "\n".join(out), continued
