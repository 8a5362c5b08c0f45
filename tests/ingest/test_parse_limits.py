"""Hostile files stay cheap to parse (hardening issue 11, findings 3 and 5): linear Markdown, limits while extracting."""

from __future__ import annotations

import io
import random
import time

import pytest
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, ContentStream, DictionaryObject, NameObject

from ingest.parse import ParseLimits, parse_document
from kernel.errors import InvalidRequestError
from tests.fixtures_docs import make_zip

# Generous: these inputs took minutes with the old backtracking patterns (~3 s for 32 KB of "**a ",
# growing with the square of the line); a linear parse takes a few seconds even on a loaded machine.
BOUND_S = 30.0


@pytest.mark.parametrize(
    "line",
    [
        "**a " * 50_000,  # 200 KB of unclosed emphasis on one line
        "[a](" * 50_000,  # unclosed links
        "| " + "a | " * 50_000,  # a table-like line
    ],
    ids=["emphasis", "links", "table-row"],
)
def test_pathological_markdown_line_parses_in_linear_time(line: str) -> None:
    data = f"# Notes\n\n| x | y |\n|---|---|\n{line}\n\nEnd.\n".encode()
    started = time.monotonic()
    try:
        doc = parse_document(data, "hostile.md")
    except InvalidRequestError as refused:  # too much text in one section is a fine answer too
        assert "hostile.md" in refused.message
    else:
        assert doc.text.endswith("End.")
    assert time.monotonic() - started < BOUND_S


def test_markdown_far_beyond_the_section_limit_is_refused_before_its_markup_is_parsed() -> None:
    data = ("**a " * 300_000).encode()  # 1.2 MB on one line
    started = time.monotonic()
    with pytest.raises(InvalidRequestError, match="characters of Markdown"):
        parse_document(data, "huge.md")
    assert time.monotonic() - started < BOUND_S


def _shared_stream_pdf(pages: int, line: str, lines: int) -> bytes:
    """A small PDF whose pages all draw one content stream: tiny on disk, large once extracted."""
    writer = PdfWriter()
    text = "BT /F1 8 Tf 10 780 Td " + " ".join(f"({line}) Tj 0 -9 Td" for _ in range(lines)) + " ET"
    stream = ContentStream(None, None)
    stream.set_data(text.encode())
    shared = None
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for _ in range(pages):
        page = writer.add_blank_page(width=612, height=792)
        if shared is None:
            page.replace_contents(stream)  # the writer stores it once, as an indirect object
            shared = page.raw_get("/Contents")
        page[NameObject("/Contents")] = ArrayObject([shared])
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_pages_sharing_one_content_stream_are_cut_while_extracting() -> None:
    pdf = _shared_stream_pdf(pages=400, line="Amplified text " * 6, lines=80)
    assert len(pdf) < 100_000
    limits = ParseLimits(max_chars=100_000)  # each page extracts ~7,000 characters
    with pytest.raises(InvalidRequestError, match=r"more than 100,000 characters of text \(by page \d+\)") as caught:
        parse_document(pdf, "amplified.pdf", limits)
    # Extraction stopped at the page that crossed the limit, not after all 400 pages.
    page = int(caught.value.message.split("by page ")[1].split(")")[0])
    assert 10 <= page <= 20


def test_docx_with_huge_xml_is_refused_from_the_zip_directory() -> None:
    # Incompressible, so no ratio check catches it: 70 MB of XML python-docx would hold as a tree.
    xml = random.Random(5).randbytes(70 * 1024 * 1024)
    archive = make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": xml})
    started = time.monotonic()
    with pytest.raises(InvalidRequestError, match="XML would expand to 73,400,328 bytes; the limit is 67,108,864"):
        parse_document(archive, "huge.docx")
    assert time.monotonic() - started < BOUND_S
