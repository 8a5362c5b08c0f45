"""Do table cells keep their row and column labels? Financial tables through every parser, before and after.

Three tables (an income statement with quarters as columns over two PDF pages, segment revenue by
region, a two-row header with spans) are written as DOCX, HTML, Markdown and PDF, parsed back with
``parse_document`` and scored with ``cell_label_coverage``: the share of value cells whose value, row
label and column headers share a line. "Before" scores what the parsers wrote until now: table rows
as ``a | b | c`` (DOCX, HTML, Markdown) and PDFium's page text (PDF).

``python -m bench tables`` (or ``python -m bench.tables``); ``--json`` prints the numbers as JSON.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import docx
import pypdfium2 as pdfium

from ingest.parse import parse_document
from ingest.parse.tables import Table, cell_label_coverage, make_table
from tests.fixtures_docs import PdfCell, make_table_pdf, right_aligned

Rows = list[list[str | None]]


@dataclass(frozen=True, slots=True)
class Sample:
    """One table as its author wrote it; ``page_break``: rows after this many data rows go on a new PDF page."""

    name: str
    table: Table
    page_break: int | None = None


def samples() -> list[Sample]:
    """The tables measured."""
    income: Rows = [
        ["(in millions, except per share)", "Q1 2024", "Q2 2024", "Q3 2024", "Q4 2024"],
        ["Revenue", "1,204", "1,310", "1,287", "1,455"],
        ["Cost of revenue", "(512)", "(548)", "(541)", "(601)"],
        ["Gross profit", "692", "762", "746", "854"],
        ["Operating expenses:", "", "", "", ""],
        ["Research and development", "181", "190", "187", "202"],
        ["Sales and marketing", "144", "151", "149", "170"],
        ["General and administrative", "96", "98", "97", "105"],
        ["Operating income", "271", "323", "313", "377"],
        ["Net income", "204", "247", "236", "290"],
        ["Diluted earnings per share", "$0.52", "$0.63", "$0.60", "$0.74"],
    ]
    regions: Rows = [
        ["Region", "2024", "2023", "Change %"],
        ["Europe", "4,812", "4,405", "9.2"],
        ["North America", "6,120", "5,874", "4.2"],
        ["South America", "903", "951", "(5.0)"],
        ["Asia Pacific", "2,377", "2,010", "18.3"],
        ["Middle East and Africa", "611", "540", "13.1"],
        ["Total", "14,823", "13,780", "7.6"],
    ]
    periods: Rows = [
        ["", "Three months ended March 31", None, "Six months ended June 30", None],
        ["", "2024", "2023", "2024", "2023"],
        ["Subscription revenue", "842", "733", "1,702", "1,490"],
        ["Services revenue", "118", "126", "231", "249"],
        ["Hardware revenue", "44", "", "90", "12"],
        ["Total revenue", "1,004", "859", "2,023", "1,751"],
    ]
    return [
        Sample("income statement", make_table(income, header_rows=1, caption="Consolidated income statement"), 5),
        Sample("segment revenue", make_table(regions, header_rows=1, caption="Revenue by region (in millions)")),
        Sample("two-row header", make_table(periods, header_rows=2, caption="Revenue by type (in millions)")),
    ]


def _spans(row: Sequence[str | None]) -> list[tuple[str, int]]:
    """Each cell of a row with how many columns it spans."""
    out: list[tuple[str, int]] = []
    for cell in row:
        if cell is None and out:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((cell or "", 1))
    return out


def to_docx(table: Table) -> bytes:
    """A Word document: the caption (Caption style) and the table, spanning header cells merged."""
    document = docx.Document()
    document.add_paragraph(table.caption, style="Caption")
    grid = document.add_table(rows=len(table.rows), cols=len(table.rows[0]))
    for r, row in enumerate(table.rows):
        column = 0
        for text, span in _spans(row):
            cell = grid.cell(r, column).merge(grid.cell(r, column + span - 1)) if span > 1 else grid.cell(r, column)
            cell.text = text
            column += span
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def to_html(table: Table) -> bytes:
    """An HTML page: caption, header rows of th in a thead (colspan for spans), td in the tbody."""
    head = "".join(
        "<tr>" + "".join(f'<th colspan="{n}">{html.escape(t)}</th>' for t, n in _spans(row)) + "</tr>"
        for row in table.rows[: table.header_rows]
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell or '')}</td>" for cell in row) + "</tr>"
        for row in table.rows[table.header_rows :]
    )
    page = f"<html><body><table><caption>{html.escape(table.caption)}</caption>"
    return f"{page}<thead>{head}</thead><tbody>{body}</tbody></table></body></html>".encode()


def to_markdown(table: Table) -> bytes:
    """A pipe table after the caption; several header rows become one (Markdown has one), joined with ", "."""
    width = len(table.rows[0])
    header = [", ".join(dict.fromkeys(p for p in parts if p)) for parts in zip(*_filled(table), strict=True)]
    lines = [table.caption, "", "| " + " | ".join(header) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(cell or "" for cell in row) + " |" for row in table.rows[table.header_rows :]]
    return ("\n".join(lines) + "\n").encode()


def _filled(table: Table) -> list[list[str]]:
    """Header rows with each span's text repeated in every column it covers."""
    out = []
    for row in table.rows[: table.header_rows]:
        filled, current = [], ""
        for cell in row:
            current = current if cell is None else cell
            filled.append(current)
        out.append(filled)
    return out


def to_pdf(table: Table, page_break: int | None) -> bytes:
    """The table as positioned text: labels at the margin, numbers right-aligned, spans centred."""
    width = len(table.rows[0]) - 1
    rights = [540 - 80 * (width - 1 - k) for k in range(width)]
    lines: list[list[PdfCell]] = [[(72, table.caption)], []]
    for row in table.rows[: table.header_rows]:
        line: list[PdfCell] = [(72, row[0])] if row[0] else []
        column = 1
        for text, span in _spans(row[1:]):
            centre = (rights[column - 1] - 40 + rights[column + span - 2]) / 2 if span > 1 else None
            if text:
                left = right_aligned(rights[column + span - 2], text)[0]
                line.append((centre - (rights[column + span - 2] - left) / 2, text) if centre else (left, text))
            column += span
        lines.append(line)
    pages = [lines]
    for number, row in enumerate(table.rows[table.header_rows :]):
        if number == page_break:
            pages.append([])
        cells = [(72 if i == 0 else right_aligned(rights[i - 1], cell)[0], cell) for i, cell in enumerate(row) if cell]
        pages[-1].append(cells)
    return make_table_pdf(pages)


def _pipes(table: Table) -> str:
    return "\n".join(" | ".join(cell for cell in row if cell) for row in table.rows)


def _pdfium_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        return "\n\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


FORMATS: dict[str, tuple[str, Callable[[Sample], bytes]]] = {
    "docx": (".docx", lambda s: to_docx(s.table)),
    "html": (".html", lambda s: to_html(s.table)),
    "markdown": (".md", lambda s: to_markdown(s.table)),
    "pdf": (".pdf", lambda s: to_pdf(s.table, s.page_break)),
}


def measure() -> list[dict[str, object]]:
    """Coverage before and after for every table in every format, with its count of value cells."""
    results: list[dict[str, object]] = []
    for sample in samples():
        cells = sum(1 for row in sample.table.rows[sample.table.header_rows :] for cell in row[1:] if cell)
        for fmt, (suffix, render) in FORMATS.items():
            data = render(sample)
            before_text = _pdfium_text(data) if fmt == "pdf" else _pipes(sample.table)
            after_text = parse_document(data, f"table{suffix}").text
            results.append(
                {
                    "table": sample.name,
                    "format": fmt,
                    "cells": cells,
                    "before": round(cell_label_coverage(before_text, sample.table), 3),
                    "after": round(cell_label_coverage(after_text, sample.table), 3),
                }
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = measure()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print("| table | format | value cells | coverage before | coverage after |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['table']} | {r['format']} | {r['cells']} | {r['before']:.2f} | {r['after']:.2f} |")
    for fmt in FORMATS:
        mine = [r for r in results if r["format"] == fmt]
        total = sum(int(str(r["cells"])) for r in mine)
        before = sum(float(str(r["before"])) * int(str(r["cells"])) for r in mine) / total
        after = sum(float(str(r["after"])) * int(str(r["cells"])) for r in mine) / total
        print(f"| all | {fmt} | {total} | {before:.2f} | {after:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
