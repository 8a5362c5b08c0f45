"""Tests for ingest.parse: every format, the dispatcher, and every way a file can be unusable."""

from __future__ import annotations

import codecs
import io
import logging
import random
import re
import zipfile
from pathlib import Path

import pytest

from ingest.parse import FORMATS, SUPPORTED_EXTENSIONS, detect_format, parse_document
from ingest.parse.docx import check_zip_safety
from kernel.errors import CorruptDocumentError, EmptyDocumentError, InputError, UnsupportedFormatError
from kernel.models import Document
from tests.fixtures_docs import (
    LIGHTHOUSES,
    make_docx,
    make_encrypted_pdf,
    make_html,
    make_markdown,
    make_pdf,
    make_txt,
    make_zip,
    make_zip_bomb,
    write_sample_folder,
)

JUNK = random.Random(7).randbytes(4096)


def assert_well_formed(doc: Document) -> None:
    """The invariants every parser promises."""
    assert doc.format in FORMATS
    assert doc.title.strip() == doc.title and doc.title
    assert "/" not in doc.source and "\\" not in doc.source
    assert doc.text == doc.text.strip()
    assert "\0" not in doc.text and "\t" not in doc.text
    assert "  " not in doc.text and "\n\n\n" not in doc.text
    covered = [False] * len(doc.text)
    previous_end = 0
    for section in doc.sections:
        assert previous_end <= section.start < section.end <= len(doc.text)
        span = doc.text[section.start : section.end]
        assert span == span.strip()
        covered[section.start : section.end] = [True] * (section.end - section.start)
        previous_end = section.end
    assert all(c or ch.isspace() for c, ch in zip(covered, doc.text, strict=True))


# --- one file of each format -------------------------------------------------------------------


def test_sample_folder_parses_to_one_document_per_format(tmp_path: Path) -> None:
    paths = write_sample_folder(tmp_path)
    assert [p.name for p in paths] == ["sample.txt", "sample.md", "sample.html", "sample.pdf", "sample.docx"]
    docs = {p.suffix: parse_document(p.read_bytes(), str(p)) for p in paths}
    expected = {
        ".txt": ("txt", "sample", "Beekeepers inspect the brood frames"),
        ".md": ("markdown", "Volcanoes", "Stratovolcanoes like Mount Fuji"),
        ".html": ("html", "Chess openings", "The Queen's Gambit offers a pawn"),
        ".pdf": ("pdf", "A short history of lighthouses", "Augustin Fresnel designed a lens"),
        ".docx": ("docx", "Sourdough baking", "Feed the starter twice a day"),
    }
    for suffix, (fmt, title, phrase) in expected.items():
        doc = docs[suffix]
        assert_well_formed(doc)
        assert (doc.format, doc.title, doc.source) == (fmt, title, f"sample{suffix}")
        assert phrase in " ".join(doc.text.split())
    # Each file is about its own topic only, so search tests can tell them apart.
    assert "lighthouse" not in docs[".txt"].text.lower()
    assert "beekeeping" not in docs[".pdf"].text.lower()


def test_supported_extensions_match_what_is_parsed() -> None:
    assert {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"} <= SUPPORTED_EXTENSIONS
    assert all(ext.startswith(".") and ext == ext.lower() for ext in SUPPORTED_EXTENSIONS)


# --- dispatcher --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (make_pdf(["hello"]), "misnamed.txt", "pdf"),
        (make_docx("H", ["p"]), "upload.bin", "docx"),
        (make_html("T", ["p"]), "page.txt", "html"),
        (b"<!doctype html><p>hi</p>", "noext", "html"),
        (b"# Title\n\ntext", "notes.md", "markdown"),
        (b"# Title\n\ntext", "notes.markdown", "markdown"),
        (b"<p>fragment</p>", "frag.htm", "html"),
        (b"plain words", "notes.txt", "txt"),
        (b"plain words", "README", "txt"),
        (b"key: value\n", "config.yaml", "txt"),
        (b"mentions %PDF-1.4 later on", "notes.txt", "txt"),
        (b"junk then %PDF-1.4", "claims.pdf", "pdf"),
    ],
)
def test_detect_format_sniffs_content_then_extension(data: bytes, filename: str, expected: str) -> None:
    assert detect_format(data, filename) == expected


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (JUNK, "blob.bin"),
        (b"\x89PNG\r\n\x1a\n" + JUNK, "image.png"),
        (make_zip({"a.txt": b"hello"}), "archive.zip"),
        (make_zip({"xl/workbook.xml": b"<x/>"}), "sheet.xlsx"),
    ],
)
def test_unsupported_formats_name_the_file_and_the_supported_types(data: bytes, filename: str) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        parse_document(data, f"some/dir/{filename}")
    assert filename in caught.value.message
    assert ".pdf" in caught.value.message and ".docx" in caught.value.message


@pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.html", "empty.pdf", "empty.docx", "empty"])
@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n  "])
def test_empty_files_are_empty_documents(name: str, data: bytes) -> None:
    with pytest.raises(EmptyDocumentError, match=re.escape(name)):
        parse_document(data, name)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (codecs.BOM_UTF8 + b" \n ", "bom.txt"),
        (b"<html><head><title>Only a title</title></head><body> </body></html>", "blank.html"),
        (b"<!-- nothing -->\n\n---\n", "rule.md"),
        (make_docx("", []), "blank.docx"),
    ],
)
def test_documents_without_text_are_empty(data: bytes, name: str) -> None:
    with pytest.raises(EmptyDocumentError):
        parse_document(data, name)


def test_binary_junk_named_txt_is_corrupt_with_a_clear_message() -> None:
    with pytest.raises(CorruptDocumentError, match=r"junk\.txt does not look like text"):
        parse_document(JUNK, "junk.txt")
    with pytest.raises(InputError):
        parse_document(b"\0" * 100 + b"abc", "nul.txt")


def test_source_drops_directories_of_both_slash_styles() -> None:
    assert parse_document(b"hi", "a/b/c.txt").source == "c.txt"
    assert parse_document(b"hi", "C:\\docs\\d.txt").source == "d.txt"


# --- txt ---------------------------------------------------------------------------------------


def test_txt_paragraphs_become_sections_and_whitespace_is_normalised() -> None:
    data = b"First\t\tline   here.\r\nSame   paragraph.\r\n\r\n\r\n\r\nSecond\x00 paragraph.\n \n\nThird.\f Fourth."
    doc = parse_document(data, "notes.txt")
    assert_well_formed(doc)
    assert doc.text == "First line here.\nSame paragraph.\n\nSecond paragraph.\n\nThird.\n\nFourth."
    assert [doc.text[s.start : s.end] for s in doc.sections] == [
        "First line here.\nSame paragraph.",
        "Second paragraph.",
        "Third.",
        "Fourth.",
    ]
    assert all(s.heading is None and s.page is None for s in doc.sections)


@pytest.mark.parametrize(
    "data",
    [
        "Caf\u00e9 cr\u00e8me \u2014 na\u00efve".encode(),
        codecs.BOM_UTF8 + "Caf\u00e9 cr\u00e8me \u2014 na\u00efve".encode(),
        "Caf\u00e9 cr\u00e8me \u2014 na\u00efve".encode("utf-16"),
        "Caf\u00e9 cr\u00e8me \u2014 na\u00efve".encode("cp1252"),
    ],
)
def test_txt_decodes_utf8_bom_utf16_and_cp1252(data: bytes) -> None:
    assert parse_document(data, "menu.txt").text == "Caf\u00e9 cr\u00e8me \u2014 na\u00efve"


# --- markdown ----------------------------------------------------------------------------------


MARKDOWN = b"""---
layout: post
---
Intro before any heading.

# Volcanoes of the *world*

Magma rises through **the crust** and [erupts](https://example.com/erupt "title").
![A crater](crater.png) is shown with `inline code`.

## Types

* Shield volcanoes
* Stratovolcanoes

| Name | Height |
|------|--------|
| Fuji | 3776 m |

```python
# a comment, not a heading
x  =  1
```

Sub heading
-----------

Body under the setext heading.

### Deep
Text right under.
"""


def test_markdown_sections_follow_headings() -> None:
    doc = parse_document(MARKDOWN, "volcanoes.md")
    assert_well_formed(doc)
    assert doc.format == "markdown"
    assert doc.title == "Volcanoes of the world"
    spans = [(doc.text[s.start : s.end], s.heading, s.level) for s in doc.sections]
    assert spans[0] == ("Intro before any heading.", None, 0)
    assert ("Volcanoes of the world", "Volcanoes of the world", 1) in spans
    assert ("Types", "Types", 2) in spans
    assert ("Sub heading", "Sub heading", 2) in spans
    assert ("Deep", "Deep", 3) in spans
    assert ("Text right under.", "Deep", 0) in spans
    assert ("Body under the setext heading.", "Sub heading", 0) in spans
    assert ("- Shield volcanoes\n- Stratovolcanoes", "Types", 0) in spans
    assert ("Name\nFuji — Height: 3776 m.", "Types", 0) in spans
    assert ("# a comment, not a heading\nx = 1", "Types", 0) in spans


def test_markdown_strips_markup_but_keeps_the_words() -> None:
    doc = parse_document(MARKDOWN, "volcanoes.md")
    assert "Magma rises through the crust and erupts.\nA crater is shown with inline code." in doc.text
    for markup in ("**", "](", "https://", "`", "layout: post", "---"):
        assert markup not in doc.text


def test_markdown_title_from_front_matter_or_file_stem() -> None:
    assert parse_document(b"---\ntitle: 'From YAML'\n---\n# H1\n\nx", "a.md").title == "From YAML"
    assert parse_document(b"## Only H2\n\ntext", "dir/my-notes.md").title == "my-notes"


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("Use snake_case_names and 2 * 3 * 4 = 24.", "Use snake_case_names and 2 * 3 * 4 = 24."),
        ("Call `f(*args, **kw)` on a `List<String>`.", "Call f(*args, **kw) on a List<String>."),
        ("A <span class='x'>styled</span> word, a Map<K, V> type.", "A styled word, a Map<K, V> type."),
        ("Escaped \\*stars\\* and #hashtag stay.", "Escaped *stars* and #hashtag stay."),
        (
            "Heading with closing hashes ##\n\n## Real heading ##",
            "Heading with closing hashes ##\n\nReal heading",
        ),
    ],
)
def test_markdown_keeps_text_that_only_looks_like_markup(source: str, text: str) -> None:
    assert parse_document(source.encode(), "m.md").text == text


# --- html --------------------------------------------------------------------------------------


def test_html_keeps_visible_text_only() -> None:
    data = b"""<!DOCTYPE html><html><head><title>Chess &amp; openings</title>
    <style>body { color: red }</style><script>var secret = "hidden";</script>
    <meta name="description" content="meta text"></head>
    <body><nav><a href="/">Home</a> <a href="/x">Menu</a></nav>
    <h1>Openings</h1>
    <p>The <b>Sicilian</b>
       defence &mdash; sharp&nbsp;play.</p>
    <div>Block one</div><div>Block two<br>next line</div>
    <ul><li>1.e4 c5</li><li>1.d4 d5</li></ul>
    <h2>Tables</h2>
    <table><tr><th>Opening</th><th>Move</th></tr><tr><td>Ruy Lopez</td><td>Bb5</td></tr></table>
    <noscript>enable js</noscript>
    </body></html>"""
    doc = parse_document(data, "chess.html")
    assert_well_formed(doc)
    assert doc.title == "Chess & openings"
    for hidden in ("secret", "color", "Home", "Menu", "meta text", "enable js"):
        assert hidden not in doc.text
    spans = [(doc.text[s.start : s.end], s.heading, s.level) for s in doc.sections]
    assert spans[0] == ("Openings", "Openings", 1)
    assert ("The Sicilian defence \u2014 sharp play.", "Openings", 0) in spans
    assert ("Block one", "Openings", 0) in spans
    assert ("Block two\nnext line", "Openings", 0) in spans
    assert ("1.e4 c5", "Openings", 0) in spans
    assert ("Tables", "Tables", 2) in spans
    assert "Ruy Lopez" in doc.text and "Bb5" in doc.text


def test_html_title_falls_back_to_h1_then_stem_and_honours_meta_charset() -> None:
    assert parse_document(b"<html><body><h1>Heading</h1><p>x</p></body></html>", "p.html").title == "Heading"
    assert parse_document(b"<p>just a fragment</p>", "frag.htm").title == "frag"
    latin = "<html><head><meta charset='windows-1252'></head><body><p>caf\u00e9 \u2013 cr\u00e8me</p></body>"
    assert parse_document(latin.encode("cp1252"), "l.html").text == "caf\u00e9 \u2013 cr\u00e8me"


def test_html_with_unclosed_head_still_yields_body_text() -> None:
    doc = parse_document(b"<html><head><title>T</title><p>Body text survives.", "x.html")
    assert doc.text == "Body text survives."


# --- pdf ---------------------------------------------------------------------------------------


def test_pdf_fixture_is_a_real_pdf_that_pypdf_reads() -> None:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(make_pdf(["Alpha (one) page.", "Beta page."])))
    assert len(reader.pages) == 2
    assert "Alpha (one) page." in reader.pages[0].extract_text()


def test_pdf_has_one_section_per_page() -> None:
    doc = parse_document(make_pdf(LIGHTHOUSES), "lights.pdf")
    assert_well_formed(doc)
    assert doc.format == "pdf" and doc.title == "lights"
    assert [s.page for s in doc.sections] == [1, 2]
    assert "Pharos of Alexandria" in doc.text[doc.sections[0].start : doc.sections[0].end]
    assert "Fresnel" in doc.text[doc.sections[1].start : doc.sections[1].end]
    assert doc.metadata["pages"] == 2


def test_pdf_blank_pages_are_skipped_but_numbered() -> None:
    doc = parse_document(make_pdf(["", "Only the second page has text."]), "scan-ish.pdf")
    assert [s.page for s in doc.sections] == [2]


def test_scanned_pdf_without_text_layer_is_empty() -> None:
    with pytest.raises(EmptyDocumentError, match=r"no text layer.*OCR"):
        parse_document(make_pdf(["", ""]), "scan.pdf")


def test_encrypted_pdf_needing_a_password_is_corrupt() -> None:
    with pytest.raises(CorruptDocumentError, match="encrypted"):
        parse_document(make_encrypted_pdf(["secret plans"]), "locked.pdf")


def test_pdf_encrypted_with_empty_user_password_opens() -> None:
    doc = parse_document(make_encrypted_pdf(["open plans"], user_password=""), "owner-only.pdf")
    assert doc.text == "open plans"


@pytest.mark.parametrize("cut", [0.5, 0.1])
def test_truncated_pdf_is_corrupt_and_pypdf_stays_quiet(cut: float, caplog: pytest.LogCaptureFixture) -> None:
    data = make_pdf(LIGHTHOUSES)
    level = logging.getLogger("pypdf").level
    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(CorruptDocumentError, match=r"truncated\.pdf") as caught,
    ):
        parse_document(data[: int(len(data) * cut)], "truncated.pdf")
    assert caught.value.__cause__ is not None
    assert not [r for r in caplog.records if r.name.startswith("pypdf") and r.levelno >= logging.WARNING]
    assert logging.getLogger("pypdf").level == level


def test_text_file_named_pdf_is_corrupt() -> None:
    with pytest.raises(CorruptDocumentError, match="not a readable PDF"):
        parse_document(b"this is not a pdf at all", "fake.pdf")


# --- docx --------------------------------------------------------------------------------------


def test_docx_paragraphs_headings_and_tables() -> None:
    data = make_docx(
        "Sourdough",
        ["A starter is flour and water.", "Feed it daily."],
        subheading="Quantities",
        table=[["Flour", "500 g"], ["Water", "350 g"]],
    )
    doc = parse_document(data, "bread.docx")
    assert_well_formed(doc)
    assert doc.format == "docx" and doc.title == "Sourdough"
    spans = [(doc.text[s.start : s.end], s.heading, s.level) for s in doc.sections]
    assert spans == [
        ("Sourdough", "Sourdough", 1),
        ("A starter is flour and water.", "Sourdough", 0),
        ("Feed it daily.", "Sourdough", 0),
        ("Quantities", "Quantities", 2),
        ("Flour | 500 g\nWater | 350 g", "Quantities", 0),
    ]


def test_docx_merged_cell_is_read_once_per_row() -> None:
    import docx

    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 1).merge(table.cell(0, 2)).text = "Grams"
    table.cell(1, 1).text, table.cell(1, 2).text = "Bread", "Pizza"
    table.cell(2, 0).text = "Flour"
    table.cell(2, 1).merge(table.cell(2, 2)).text = "500"
    out = io.BytesIO()
    document.save(out)
    doc = parse_document(out.getvalue(), "merged.docx")
    # A merged header names every column under it; a merged value counts once.
    assert doc.text == "Flour — Grams, Bread: 500."


def test_docx_title_prefers_core_properties() -> None:
    assert parse_document(make_docx("Heading", ["x"], title="Official title"), "t.docx").title == "Official title"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (make_zip({"hello.txt": b"hi"}), "not a readable DOCX"),
        (make_docx("H", ["p"])[:400], "damaged zip"),
        (b"PK\x03\x04 not really a zip", "damaged zip"),
        (b"plain text pretending", "damaged zip"),
        (make_zip({"word/document.xml": b"<not-closed"}), "not a readable DOCX"),
    ],
)
def test_broken_docx_is_corrupt(data: bytes, message: str) -> None:
    with pytest.raises(CorruptDocumentError, match=message) as caught:
        parse_document(data, "broken.docx")
    assert caught.value.__cause__ is not None


def test_docx_zip_bomb_is_refused_before_inflating() -> None:
    bomb = make_zip_bomb(20)
    assert len(bomb) < 100_000
    with pytest.raises(CorruptDocumentError, match="zip bomb"):
        parse_document(bomb, "bomb.docx")


def test_zip_safety_limits_total_size_and_ratio() -> None:
    incompressible = random.Random(1).randbytes(2 * 1024 * 1024)
    archive = make_zip({"word/document.xml": incompressible})
    check_zip_safety(archive, "ok.docx")
    with pytest.raises(CorruptDocumentError, match="would expand to"):
        check_zip_safety(archive, "big.docx", max_bytes=1024 * 1024)
    with pytest.raises(CorruptDocumentError, match="compression ratio"):
        check_zip_safety(make_zip_bomb(2), "bomb.docx")


def test_docx_zip_listing_does_not_inflate_members() -> None:
    # Detection reads only the central directory, so even a bomb is cheap to classify.
    with zipfile.ZipFile(io.BytesIO(make_zip_bomb(5))) as archive:
        assert archive.getinfo("word/document.xml").file_size == 5 * 1024 * 1024
    assert detect_format(make_zip_bomb(5), "bomb.bin") == "docx"


def test_text_fixture_helpers_produce_plain_bytes() -> None:
    assert make_txt(["a", "b"]) == b"a\n\nb\n"
    assert make_markdown([("T", ["x"]), ("U", ["y"])]) == b"# T\n\nx\n\n## U\n\ny\n"
