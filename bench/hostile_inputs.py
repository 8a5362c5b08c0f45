"""The hostile inputs of ``bench/hostile.py``: files built to stall or amplify a parser, and a stalled stream."""

from __future__ import annotations

import json
import socket
import time
import zlib
from urllib.parse import urlsplit

import httpx

from tests.fixtures_docs import make_zip_bomb


def shared_stream_pdf(pages: int, lines_per_page: int) -> bytes:
    """A small PDF whose ``pages`` pages all draw one compressed content stream of ``lines_per_page`` lines.

    The file stays a few KB while extraction yields ``pages * lines_per_page * 100`` characters.
    """
    text = "BT /F1 8 Tf 20 780 Td " + "(" + "A" * 100 + ") Tj 0 -9 Td " * lines_per_page + "ET"
    stream = zlib.compress(text.encode("latin-1"), 9)
    first_page = 5
    kids = " ".join(f"{first_page + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream",
    ]
    page = (
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    objects += [page.encode()] * pages
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def attack_files(scale: float) -> list[tuple[str, str, bytes]]:
    """(label, file name, bytes) of each hostile upload; ``scale`` < 1 shrinks them for the smoke run."""
    n = max(1, int(scale * 300_000))
    return [
        ("Markdown, one 1.2 MB line of `**a `", "emphasis.md", ("**a " * n).encode()),
        ("Markdown, one 390 KB line of `**a ` (parsed)", "emphasis-parsed.md", ("**a " * (n * 13 // 40)).encode()),
        ("Markdown, one 1.2 MB table-like line", "table.md", ("| a " * n + "|\n|" + "---|" * 4 + "\n").encode()),
        ("Markdown, 0.45 MB of unclosed brackets", "links.md", ("[" * n + "](" * (n // 4)).encode()),
        ("HTML, 100k nested elements", "nested.html", ("<div>" * int(scale * 100_000) + "x").encode()),
        ("PDF, 40 pages on one shared content stream", "shared.pdf", shared_stream_pdf(40, int(750 * scale) + 1)),
        ("DOCX, 200 MB of XML in 200 KB", "bomb.docx", make_zip_bomb(max(2, int(200 * scale)))),
    ]


def stalled_stream(url: str, key_stalled: str, key_other: str, *, hold_s: float) -> str:
    """Open a streamed chat answer and never read it; meanwhile another tenant asks for an answer.

    Returns how the other tenant's request fared while the stream was held unread for ``hold_s``.
    """
    parts = urlsplit(url)
    question = [{"role": "user", "content": "How is honey harvested and extracted?"}]
    body = json.dumps({"model": "synthrag", "stream": True, "max_tokens": 512, "messages": question}).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {key_stalled}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # the unread answer fills this at once
        sock.sendall(head + body)
        started = time.perf_counter()
        try:
            response = httpx.post(
                f"{url}/v1/answer",
                json={"question": "When is honey harvested?", "max_tokens": 32},
                headers={"Authorization": f"Bearer {key_other}"},
                timeout=max(hold_s, 120),
            )
            other = f"{response.status_code} in {time.perf_counter() - started:.1f} s"
        except httpx.HTTPError as exc:
            other = f"{type(exc).__name__} after {time.perf_counter() - started:.1f} s"
        time.sleep(max(0.0, hold_s - (time.perf_counter() - started)))
    return f"other tenant's answer: {other}"
