"""Build small real documents of every supported format (and broken ones) for tests."""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Sequence
from pathlib import Path

import docx
from pypdf import PdfWriter

SAMPLE_TOPICS = {
    "sample.txt": "beekeeping",
    "sample.md": "volcanoes",
    "sample.html": "chess openings",
    "sample.pdf": "lighthouse history",
    "sample.docx": "sourdough baking",
}

#: Over the sample documents, the bundled SmolLM2 answers this (greedy, 256 tokens) with a numbered list
#: that repeats one item until it runs out of tokens.
LOOPING_QUESTION = "List everything about beekeeping."

BEEKEEPING = [
    "Beekeeping begins with a healthy colony. A single hive holds one queen, a few hundred drones "
    "and tens of thousands of worker bees that forage for nectar and pollen.",
    "Beekeepers inspect the brood frames every week in spring to spot swarming cells early. "
    "A calm smoker and slow movements keep the bees from becoming defensive.",
    "Honey is harvested in late summer once the frames are capped with wax. The extractor spins "
    "the frames so that the honey flies out without destroying the comb.",
]
VOLCANOES = [
    ("Volcanoes", ["Volcanoes form where magma from the mantle reaches the surface of the crust."]),
    (
        "Types of volcanoes",
        [
            "Shield volcanoes such as Mauna Loa erupt runny basalt lava that builds broad, gentle slopes.",
            "Stratovolcanoes like Mount Fuji alternate layers of ash and viscous lava, which makes "
            "their eruptions explosive.",
        ],
    ),
    ("Pyroclastic flows", ["A pyroclastic flow is a fast avalanche of hot gas and volcanic ash."]),
]
CHESS = [
    "The Sicilian Defence answers 1.e4 with c5 and fights for the centre from the side.",
    "The Queen's Gambit offers a pawn on c4 to pull Black's d-pawn away from the centre.",
    "The Ruy Lopez develops the bishop to b5 and puts early pressure on the knight defending e5.",
]
LIGHTHOUSES = [
    "The Pharos of Alexandria, built around 280 BC, was one of the Seven Wonders of the ancient world. "
    "Its fire guided ships into the harbour for centuries.\n\n"
    "Medieval lighthouses burned wood or coal in open braziers on towers along the coast.",
    "In 1822 Augustin Fresnel designed a lens of concentric prisms that made lighthouse beams visible "
    "far out at sea.\n\n"
    "Lighthouse keepers trimmed wicks and wound clockwork until automation replaced them in the "
    "twentieth century.",
]
SOURDOUGH = [
    "A sourdough starter is a culture of wild yeast and lactic acid bacteria kept in flour and water.",
    "Feed the starter twice a day until it doubles within six hours; then it is ready to leaven bread.",
    "Bulk fermentation with stretch and folds builds gluten strength before the loaf is shaped and proofed.",
]


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: Sequence[str], *, title: str | None = None) -> bytes:
    """A valid PDF with one Helvetica text page per string ("" gives a page with no text layer).

    Paragraphs (blank-line separated) are wrapped into lines; the xref offsets are computed exactly.
    ``title`` goes into the document information dictionary.
    """
    streams = []
    for text in pages:
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
        for paragraph in text.split("\n\n") if text.strip() else []:
            ops += [f"({_pdf_escape(line)}) Tj T*" for line in textwrap.wrap(" ".join(paragraph.split()), 90)]
            ops.append("T*")
        ops.append("ET")
        streams.append("\n".join(ops))
    return _pdf_from_streams(streams, title=title)


def _pdf_from_streams(streams: Sequence[str], *, title: str | None = None) -> bytes:
    """A PDF with one page per content stream, Helvetica as /F1, exact xref offsets."""
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    kids = []
    for i, text in enumerate(streams):
        page_id, content_id = 4 + 2 * i, 5 + 2 * i
        kids.append(f"{page_id} 0 R")
        stream = text.encode("cp1252", errors="replace")
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
        ).encode()
        objects[content_id] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    info = ""
    if title is not None:
        info_id = 4 + 2 * len(streams)
        objects[info_id] = f"<< /Title ({_pdf_escape(title)}) >>".encode("cp1252", errors="replace")
        info = f" /Info {info_id} 0 R"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, objects[number]))
    xref = out.tell()
    size = max(objects) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    out.write(b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, size)))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (size, info.encode(), xref))
    return out.getvalue()


#: Helvetica advance widths (thousandths of the font size) of the characters tables use most.
_HELVETICA = {**dict.fromkeys("0123456789$", 556), **dict.fromkeys(",. ", 278), "(": 333, ")": 333, "-": 333, "%": 889}

PdfCell = tuple[float, str]  # x of the left edge, text


def right_aligned(right: float, text: str, size: float = 11) -> PdfCell:
    """A cell whose text ends at ``right`` (widths are Helvetica's for digits and signs, 556 otherwise)."""
    return right - sum(_HELVETICA.get(ch, 556) for ch in text) * size / 1000, text


def make_table_pdf(pages: Sequence[Sequence[Sequence[PdfCell]]], *, leading: float = 14) -> bytes:
    """A PDF whose pages are lines of cells placed at x positions with ``Td`` moves (Helvetica 11).

    Each page is a list of lines from the top (y 760, then ``leading`` lower each); a line is a list
    of ``(x, text)`` cells, written left to right on the same baseline; an empty line leaves a gap.
    """
    streams = []
    for lines in pages:
        ops = ["BT", "/F1 11 Tf"]
        x = y = 0.0
        for number, cells in enumerate(lines):
            for left, text in cells:
                top = 760 - number * leading
                ops.append(f"{left - x:.2f} {top - y:.2f} Td ({_pdf_escape(text)}) Tj")
                x, y = left, top
        ops.append("ET")
        streams.append("\n".join(ops))
    return _pdf_from_streams(streams)


def make_encrypted_pdf(pages: Sequence[str], *, user_password: str = "secret", owner_password: str = "owner") -> bytes:
    """The PDF of ``make_pdf(pages)`` encrypted with RC4 (no extra crypto dependency needed)."""
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(pages)))
    writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(
    heading: str,
    paragraphs: Sequence[str],
    *,
    subheading: str | None = None,
    table: Sequence[Sequence[str]] | None = None,
    title: str | None = None,
) -> bytes:
    """A Word document: a Heading 1, the paragraphs, then optionally a Heading 2 and a table."""
    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if subheading is not None:
        document.add_heading(subheading, level=2)
    if table:
        grid = document.add_table(rows=len(table), cols=max(len(row) for row in table))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_html(title: str, paragraphs: Sequence[str], *, heading: str | None = None) -> bytes:
    """An HTML page with a <title>, navigation and script noise, an <h1> and <p> paragraphs."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{title}</title><style>p {{ color: red; }}</style><script>var tracking = 1;</script></head>\n"
        "<body><nav><a href='/'>Home</a> | <a href='/about'>About</a></nav>\n"
        f"<h1>{heading or title}</h1>\n{body}\n</body></html>\n"
    ).encode()


def make_markdown(sections: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    """Markdown with the first heading as H1 and the rest as H2, each followed by its paragraphs."""
    parts = []
    for i, (heading, paragraphs) in enumerate(sections):
        parts.append(f"{'#' if i == 0 else '##'} {heading}")
        parts.extend(paragraphs)
    return ("\n\n".join(parts) + "\n").encode()


def make_txt(paragraphs: Sequence[str]) -> bytes:
    """Plain UTF-8 text, paragraphs separated by blank lines."""
    return ("\n\n".join(paragraphs) + "\n").encode()


def make_zip(members: dict[str, bytes]) -> bytes:
    """A deflated zip archive holding the given members."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def make_zip_bomb(uncompressed_mb: int = 20) -> bytes:
    """A zip shaped like a DOCX whose document.xml is megabytes of zeros (compression ratio ~1000:1)."""
    return make_zip(
        {
            "[Content_Types].xml": b"<Types/>",
            "word/document.xml": b"\0" * (uncompressed_mb * 1024 * 1024),
        }
    )


def write_sample_folder(path: Path) -> list[Path]:
    """Write one file of each supported format, each about a different topic (see SAMPLE_TOPICS).

    Returns:
        The written paths, in the order txt, md, html, pdf, docx.
    """
    path.mkdir(parents=True, exist_ok=True)
    contents = {
        "sample.txt": make_txt(BEEKEEPING),
        "sample.md": make_markdown(VOLCANOES),
        "sample.html": make_html("Chess openings", CHESS),
        "sample.pdf": make_pdf(LIGHTHOUSES, title="A short history of lighthouses"),
        "sample.docx": make_docx(
            "Sourdough baking",
            SOURDOUGH,
            subheading="Dough quantities",
            table=[["Flour", "500 g"], ["Water", "350 g"], ["Salt", "10 g"]],
        ),
    }
    written = []
    for name, data in contents.items():
        target = path / name
        target.write_bytes(data)
        written.append(target)
    return written
