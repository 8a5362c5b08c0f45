"""PDFium parsing of real-world shapes: very large content arrays, limits enforced while extracting, real filings."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ingest.parse import ParseLimits, parse_document
from kernel.errors import InvalidRequestError
from tests.conftest import SHARED_DIR


def _pdf(page_contents: list[int], streams: dict[int, bytes]) -> bytes:
    """A PDF whose pages point at the given content stream object numbers (several may share one)."""
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    kids = []
    for i, content in enumerate(page_contents):
        page_id = 1000 + i
        kids.append(f"{page_id} 0 R")
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content
        )
    for number, stream in streams.items():
        objects[number] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, objects[number]))
    xref = out.tell()
    size = max(objects) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    rows = (b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n" for n in range(1, size))
    out.write(b"".join(rows))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))
    return out.getvalue()


def test_a_content_stream_with_a_very_large_array_is_read() -> None:
    # 300,000 array elements in one TJ (kerned text, as typesetters write it): pypdf's default limits
    # refused such ordinary large filings ("Reached maximum array element count").
    words = "revenue grew in every region " * 6000
    kerned = b" ".join(b"(%s) -10" % ch.encode() for ch in words[:150_000])
    stream = b"BT /F1 9 Tf 20 700 Td [" + kerned + b"] TJ ET"
    doc = parse_document(_pdf([10], {10: stream}), "filing.pdf")
    assert doc.metadata["pages"] == 1
    assert "revenue grew in every region" in doc.text
    assert len(doc.text) > 100_000


def _amplifier(pages: int) -> bytes:
    # Many pages sharing one content stream: a small file whose text multiplies with its page count.
    line = b"(" + b"spam " * 200 + b") Tj T* "
    stream = b"BT /F1 6 Tf 8 TL 10 780 Td " + line * 80 + b"ET"
    return _pdf([10] * pages, {10: stream})


def test_amplifying_pdf_stops_at_the_character_limit_while_extracting() -> None:
    data = _amplifier(40)
    assert len(parse_document(data, "bomb.pdf").text) > 20 * len(data)  # within the default limits, it amplifies
    with pytest.raises(InvalidRequestError, match=r"more than 200,000 characters"):
        parse_document(data, "bomb.pdf", ParseLimits(max_chars=200_000))
    with pytest.raises(InvalidRequestError, match=r"page 1 has .* the limit is 10,000"):
        parse_document(data, "bomb.pdf", ParseLimits(max_page_chars=10_000))


def test_page_count_and_time_limits() -> None:
    with pytest.raises(InvalidRequestError, match=r"40 pages; the limit is 30"):
        parse_document(_amplifier(40), "bomb.pdf", ParseLimits(max_pages=30))
    with pytest.raises(InvalidRequestError, match=r"took more than"):
        parse_document(_amplifier(3), "slow.pdf", ParseLimits(max_seconds=0.0))


def test_ligatures_of_a_real_transcript_are_kept() -> None:
    folder = SHARED_DIR / "eval" / "earnings-calls" / "docs"
    files = sorted(folder.glob("Q1 2023*.pdf")) if folder.is_dir() else []
    if not files:
        pytest.skip("../shared/eval/earnings-calls is not here")
    path: Path = files[0]
    doc = parse_document(path.read_bytes(), path.name)
    assert doc.text.count("Snowflake") > 20  # the "fl" ligature, which pypdf dropped ("Snowake")
    assert doc.metadata["pages"] == 20
    assert {s.page for s in doc.sections} == set(range(1, 21))
