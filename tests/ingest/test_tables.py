"""Tables keep their shape: shaping, the coverage measure, and tables through every parser."""

from __future__ import annotations

import io
import time

import docx
import pypdfium2 as pdfium
import pytest

from ingest.parse import parse_document
from ingest.parse.tables import Table, cell_label_coverage, guess_header_rows, make_table, shape_table
from tests.fixtures_docs import LIGHTHOUSES, PdfCell, make_pdf, make_table_pdf
from tests.fixtures_docs import right_aligned as R

QUARTERS = make_table(
    [
        ["(in millions)", "2024", None, "2023", None],
        ["", "Q1", "Q2", "Q1", "Q2"],
        ["Revenue", "1,204", "1,310", "1,010", "1,105"],
        ["Net income", "120", "", "98", "101"],
    ],
    header_rows=2,
    caption="Income statement",
)


def _pipes(table: Table) -> str:
    """What the parsers wrote before tables kept their shape: the cells of each row joined by pipes."""
    return "\n".join(" | ".join(cell for cell in row if cell) for row in table.rows)


# --- shaping -----------------------------------------------------------------------------------


def test_multi_row_spanning_header_names_every_column_under_it() -> None:
    assert shape_table(QUARTERS) == (
        "Income statement — (in millions)\n"
        "Revenue — 2024, Q1: 1,204; 2024, Q2: 1,310; 2023, Q1: 1,010; 2023, Q2: 1,105.\n"
        "Net income — 2024, Q1: 120; 2023, Q1: 98; 2023, Q2: 101."
    )


def test_one_header_row_and_a_row_without_label() -> None:
    table = make_table([["", "Q1 2024", "Q1 2023"], ["Revenue", "1,204", "1,010"], ["", "7", "8"]], header_rows=1)
    assert shape_table(table) == "Revenue — Q1 2024: 1,204; Q1 2023: 1,010.\nQ1 2024: 7; Q1 2023: 8."


def test_empty_header_cells_leave_the_value_bare_and_label_rows_stand_alone() -> None:
    table = make_table(
        [["Item", "Amount", ""], ["Operating expenses:", "", ""], ["Research", "40", "12%"]], header_rows=1
    )
    assert shape_table(table) == "Item\nOperating expenses:\nResearch — Amount: 40; 12%."


def test_vertical_header_span_is_not_repeated() -> None:
    table = make_table([["Segment", "Revenue"], ["Segment", "EUR m"], ["Europe", "5"]], header_rows=2)
    assert shape_table(table) == "Segment\nEurope — Revenue, EUR m: 5."


def test_full_width_header_row_becomes_the_title() -> None:
    table = make_table([["Segment revenue", None, None], ["", "2024", "2023"], ["Europe", "5", "4"]], header_rows=2)
    assert shape_table(table) == "Segment revenue\nEurope — 2024: 5; 2023: 4."


def test_table_without_header_keeps_rows_as_pipes() -> None:
    table = make_table([["Flour", "500 g"], ["Water", "", "350 g"]], caption="Dough")
    assert shape_table(table) == "Dough\nFlour | 500 g\nWater | 350 g"


def test_make_table_tidies_rows_columns_and_currency_signs() -> None:
    table = make_table(
        [["", "", ""], ["", " Q1\n2024 ", "", ""], ["Revenue", "$", "1,204"], ["Cost", "", "(12)"]],
        header_rows=2,
        caption="  A  table ",
    )
    # The blank first row was a header row; the "$" column empties into its value and is dropped.
    assert table == Table(
        rows=(("", "Q1 2024", ""), ("Revenue", "", "$1,204"), ("Cost", "", "(12)")), header_rows=1, caption="A table"
    )
    assert make_table([]) == Table(rows=())
    assert shape_table(make_table([], caption="Only a caption")) == "Only a caption"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([["", "2024", "2023"], ["Revenue", "5", "4"]], 1),
        ([["", "2024", None], ["", "Q1", "Q2"], ["Revenue", "5", "4"]], 2),
        ([["Flour", "500 g"], ["Water", "350 g"]], 0),
        ([["Opening", "Move"], ["Ruy Lopez", "Bb5"]], 1),
        ([["Revenue", "5"]], 0),
        ([["Group", ""], ["Revenue", "5"]], 0),
    ],
)
def test_guess_header_rows(rows: list[list[str | None]], expected: int) -> None:
    assert guess_header_rows(rows) == expected


def test_wide_and_long_tables_shape_and_measure_in_linear_time() -> None:
    def table(rows: int, cols: int) -> Table:
        header = ["", *(f"Column {c}" for c in range(cols))]
        body = [[f"Row {r}", *(f"{r * cols + c:,}" for c in range(cols))] for r in range(rows)]
        return make_table([header, *body], header_rows=1)

    timings = []
    for size in (500, 2_000):
        big = table(size, 30)
        started = time.perf_counter()
        shaped = shape_table(big)
        assert cell_label_coverage(shaped, big) == 1.0
        timings.append(time.perf_counter() - started)
        assert shaped.count("\n") == size - 1  # one line per row
    assert timings[1] < 12 * max(timings[0], 0.01)  # 4x the cells: linear ~4x, quadratic ~16x


# --- the coverage measure ----------------------------------------------------------------------


def test_coverage_of_shaped_text_is_full_and_of_pipe_rows_is_nil() -> None:
    assert cell_label_coverage(shape_table(QUARTERS), QUARTERS) == 1.0
    assert cell_label_coverage(_pipes(QUARTERS), QUARTERS) == 0.0


def test_coverage_counts_cells_and_needs_whole_values_on_the_labelled_line() -> None:
    table = make_table([["", "A", "B"], ["x", "1", "2"], ["y", "3", ""]], header_rows=1)
    assert cell_label_coverage("x — A: 1; B: 2.\ny — A: 3.", table) == 1.0
    assert cell_label_coverage("x — A: 1; B: 2.\ny — 3.", table) == pytest.approx(2 / 3)
    assert cell_label_coverage("x — A: 1; B: 2\ny\nA: 3", table) == pytest.approx(2 / 3)
    assert cell_label_coverage("x — A: 12; B: 2.\ny — A: 3.", table) == pytest.approx(2 / 3)  # "1" is not in "12"
    assert cell_label_coverage("", make_table([["", "A"], ["x", ""]], header_rows=1)) == 1.0


def test_coverage_without_header_needs_only_the_row_label() -> None:
    table = make_table([["Flour", "500 g"], ["Water", "350 g"]])
    assert cell_label_coverage(_pipes(table), table) == 1.0
    assert cell_label_coverage("Flour\n500 g\nWater\n350 g", table) == 0.0


# --- through the parsers -----------------------------------------------------------------------


def _docx_with_quarters(*, mark_header: bool) -> bytes:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    document.add_paragraph("Results for the half year.")
    document.add_paragraph("Segment revenue (in millions)", style="Caption")
    values = [
        ["Segment", "2024", "", "2023", ""],
        ["", "Q1", "Q2", "Q1", "Q2"],
        ["Europe", "1,204", "1,310", "1,010", "1,105"],
        ["Americas", "Q2 closed", "—", "2,000", "2,050"],
    ]
    grid = document.add_table(rows=4, cols=5)
    for r, row in enumerate(values):
        for c, value in enumerate(row):
            if value:
                grid.cell(r, c).text = value
    grid.cell(0, 1).merge(grid.cell(0, 2))
    grid.cell(0, 3).merge(grid.cell(0, 4))
    grid.cell(0, 0).merge(grid.cell(1, 0))
    if mark_header:  # Word's "repeat as header row" on the first two rows
        for tr in list(document.element.body.iter(qn("w:tr")))[:2]:
            properties = tr.find(qn("w:trPr"))
            if properties is None:
                properties = OxmlElement("w:trPr")
                tr.insert(0, properties)
            properties.append(OxmlElement("w:tblHeader"))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.mark.parametrize("mark_header", [True, False])
def test_docx_table_rows_keep_labels_with_merged_headers_and_caption(mark_header: bool) -> None:
    doc = parse_document(_docx_with_quarters(mark_header=mark_header), "segments.docx")
    assert doc.text.split("\n\n") == [
        "Results for the half year.",
        "Segment revenue (in millions) — Segment\n"
        "Europe — 2024, Q1: 1,204; 2024, Q2: 1,310; 2023, Q1: 1,010; 2023, Q2: 1,105.\n"
        "Americas — 2024, Q1: Q2 closed; 2024, Q2: —; 2023, Q1: 2,000; 2023, Q2: 2,050.",
    ]


def test_docx_rows_marked_as_header_win_over_the_guess() -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def build(marked: int) -> bytes:
        document = docx.Document()
        grid = document.add_table(rows=3, cols=2)
        for r, row in enumerate([["Code", "Region"], ["", "full name"], ["EU", "Europe"]]):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
        for tr in list(document.element.body.iter(qn("w:tr")))[:marked]:
            properties = OxmlElement("w:trPr")
            properties.append(OxmlElement("w:tblHeader"))
            tr.insert(0, properties)
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()

    # A table of text: the guess takes the first row only; Word's marks say two.
    assert parse_document(build(0), "t.docx").text == "Code\nRegion: full name.\nEU — Region: Europe."
    assert parse_document(build(2), "t.docx").text == "Code\nEU — Region, full name: Europe."


def test_docx_nested_table_text_is_flattened_into_its_cell() -> None:
    document = docx.Document()
    outer = document.add_table(rows=2, cols=2)
    outer.cell(0, 1).text = "Notes"
    outer.cell(1, 0).text = "Europe"
    inner = outer.cell(1, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text, inner.cell(0, 1).text = "see", "annex"
    out = io.BytesIO()
    document.save(out)
    assert parse_document(out.getvalue(), "nested.docx").text == "Europe — Notes: see annex."


HTML_TABLE = b"""<!DOCTYPE html><html><body><h1>Segments</h1><p>Intro.</p>
<table><caption>Segment revenue</caption>
<thead><tr><th rowspan="2">Segment</th><th colspan="2">2024</th><th colspan="2">2023</th></tr>
<tr><th>Q1</th><th>Q2</th><th>Q1</th><th>Q2</th></tr></thead>
<tbody><tr><th>Europe</th><td>1,204</td><td><p>1,310</p><br></td><td>1,010</td><td>1,105</td></tr>
<tr><td rowspan="2">Americas</td><td>2,000</td><td>2,100</td><td>1,900</td><td>1,950</td></tr>
<tr><td>5</td><td><table><tr><td>see</td><td>annex</td></tr></table></td><td></td><td>7</td></tr></tbody>
</table><p>After.</p></body></html>"""


def test_html_table_with_thead_caption_colspan_rowspan_and_nested_table() -> None:
    doc = parse_document(HTML_TABLE, "segments.html")
    assert doc.text.split("\n\n") == [
        "Segments",
        "Intro.",
        "Segment revenue — Segment\n"
        "Europe — 2024, Q1: 1,204; 2024, Q2: 1,310; 2023, Q1: 1,010; 2023, Q2: 1,105.\n"
        "Americas — 2024, Q1: 2,000; 2024, Q2: 2,100; 2023, Q1: 1,900; 2023, Q2: 1,950.\n"
        "Americas — 2024, Q1: 5; 2024, Q2: see annex; 2023, Q2: 7.",
        "After.",
    ]


@pytest.mark.parametrize(
    ("html", "text"),
    [
        # th in the first row (an empty corner td is fine) makes it the header.
        (
            b"<table><tr><td></td><th>Move</th></tr><tr><td>Ruy Lopez</td><td>Bb5</td></tr></table>",
            "Ruy Lopez — Move: Bb5.",
        ),
        # No th, no numbers: a layout table keeps its rows.
        (
            b"<table><tr><td>Home</td><td>About</td></tr><tr><td>News</td><td>Shop</td></tr></table>",
            "Home | About\nNews | Shop",
        ),
        # No th but numbers under a row of text: the header is guessed.
        (b"<table><tr><td></td><td>2024</td></tr><tr><td>Revenue</td><td>5</td></tr></table>", "Revenue — 2024: 5."),
        # Text outside any cell is shown before the table, as browsers do.
        (b"<table>stray<tr><th>A</th></tr><tr><td>1</td></tr></table>", "stray\n\nA\n1"),
        # An unclosed table still ends at the end of the page; a hostile colspan is capped.
        (b'<table><tr><th></th><th colspan="99999">Q1</th><tr><td>x</td><td>1', "x — Q1: 1."),
    ],
)
def test_html_table_headers_from_markup_or_numbers(html: bytes, text: str) -> None:
    assert parse_document(html, "t.html").text == text


MARKDOWN_TABLE = b"""# Results

Revenue by quarter:
| Metric | Q1 2024 | Q1 2023 |
|:-------|--------:|--------:|
| **Revenue** | 1,204 | 1,010 |
| Net \\| other | 7 |
|  | 3 | 4 | 99 |

Name | Height
-- | --
not a table: the separator is too short
"""


def test_markdown_pipe_table_is_one_shaped_block() -> None:
    doc = parse_document(MARKDOWN_TABLE, "results.md")
    blocks = doc.text.split("\n\n")
    assert blocks[:3] == [
        "Results",
        "Revenue by quarter:",
        "Metric\nRevenue — Q1 2024: 1,204; Q1 2023: 1,010.\nNet | other — Q1 2024: 7.\nQ1 2024: 3; Q1 2023: 4.",
    ]
    assert blocks[3] == "Name | Height\n-- | --\nnot a table: the separator is too short"
    assert len([s for s in doc.sections if "Revenue —" in doc.text[s.start : s.end]]) == 1


# --- pdf ---------------------------------------------------------------------------------------

QUARTER_HEADER: list[list[PdfCell]] = [
    [(300, "Three months ended March 31"), (505, "Change")],
    [R(380, "2024"), R(460, "2023"), R(540, "%")],
]


def _row(label: str, *values: str, indent: float = 72) -> list[PdfCell]:
    return [(indent, label), *(R(right, value) for right, value in zip((380, 460, 540), values, strict=False) if value)]


def _pdfium_text(data: bytes) -> str:
    """What the parser wrote before tables: PDFium's text of each page, lines trimmed, pages apart."""
    pdf = pdfium.PdfDocument(data)
    try:
        pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()
    lines = ["\n".join(" ".join(line.split()) for line in page.splitlines() if line.strip()) for page in pages]
    return "\n\n".join(page for page in lines if page)


def test_pdf_table_across_two_pages_keeps_the_first_pages_headers() -> None:
    page_one: list[list[PdfCell]] = [
        [(72, "Segment revenue (in millions)")],
        [],
        *QUARTER_HEADER,
        _row("Europe", "1,204", "1,010", "19.2"),
        [(72, "Americas:")],
        _row("North America", "2,310", "2,200", "5.0", indent=84),
    ]
    page_two = [_row("South America", "410", "", "(3.1)", indent=84), _row("Asia", "880", "790", "11.4")]
    doc = parse_document(make_table_pdf([page_one, page_two]), "segments.pdf")
    assert [s.page for s in doc.sections] == [1, 2]
    first, second = (doc.text[s.start : s.end] for s in doc.sections)
    assert first == (
        "Segment revenue (in millions)\n"
        "Europe — Three months ended March 31, 2024: 1,204; Three months ended March 31, 2023: 1,010; "
        "Change, %: 19.2.\n"
        "Americas:\n"
        "North America — Three months ended March 31, 2024: 2,310; Three months ended March 31, 2023: 2,200; "
        "Change, %: 5.0."
    )
    assert second == (
        "South America — Three months ended March 31, 2024: 410; Change, %: (3.1).\n"
        "Asia — Three months ended March 31, 2024: 880; Three months ended March 31, 2023: 790; Change, %: 11.4."
    )
    source = make_table(
        [
            ["", "Three months ended March 31", None, "Change"],
            ["", "2024", "2023", "%"],
            ["Europe", "1,204", "1,010", "19.2"],
            ["North America", "2,310", "2,200", "5.0"],
            ["South America", "410", "", "(3.1)"],
            ["Asia", "880", "790", "11.4"],
        ],
        header_rows=2,
    )
    assert cell_label_coverage(doc.text, source) == 1.0
    assert cell_label_coverage(_pdfium_text(make_table_pdf([page_one, page_two])), source) == 0.0


def test_pdf_next_page_with_other_columns_or_far_down_does_not_take_the_header() -> None:
    page_one: list[list[PdfCell]] = [
        *QUARTER_HEADER,
        _row("Europe", "1,204", "1,010", "19.2"),
        _row("Asia", "880", "790", "11.4"),
    ]
    two_columns = [[(72, "Staff"), R(380, "1,204"), R(460, "1,010")], [(72, "Sites"), R(380, "12"), R(460, "11")]]
    prose: list[list[PdfCell]] = [[(72, f"Paragraph line {n} of the notes.")] for n in range(5)]
    for page_two in (two_columns, [*prose, *page_one[2:]]):
        data = make_table_pdf([page_one, page_two])
        doc = parse_document(data, "t.pdf")
        assert doc.text.split("\n\n")[1] == _pdfium_text(make_table_pdf([page_two]))


def test_pdf_prose_and_unlabelled_numbers_come_out_exactly_as_pdfium_writes_them() -> None:
    numbers = (
        "Revenue rose 12% to 1,204 million in 2024 from 1,010 million in 2023, while costs fell 3% to 512 "
        "and 430 million. Of 37 sites, 12 opened in 2022 and 25 in 2021; 4,100 staff work at 9 of them. "
        "Margins were 19.2% and 19.1%, against 18.0% and 17.5% in the two years before, on 1,000 orders."
    )
    no_header = [[(72, "Staff"), R(380, "1,204"), R(460, "1,010")], [(72, "Sites"), R(380, "12"), R(460, "11")]]
    for data in (make_pdf([*LIGHTHOUSES, numbers]), make_table_pdf([no_header])):
        assert parse_document(data, "prose.pdf").text == _pdfium_text(data)
