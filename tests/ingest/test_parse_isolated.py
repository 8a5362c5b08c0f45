"""Parsing in a child process: the same Documents and errors as in-process, and a hard stop past the budget."""

from __future__ import annotations

import time

import pytest

from ingest.parse import ParseLimits, parse_document
from ingest.parse.isolated import parse_isolated
from kernel.errors import CorruptDocumentError, UnsupportedFormatError
from tests.app.upload_support import SAMPLES


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_child_parses_what_the_service_would(name: str) -> None:
    assert parse_isolated(SAMPLES[name], name) == parse_document(SAMPLES[name], name)


def test_errors_keep_their_kind_and_message() -> None:
    with pytest.raises(UnsupportedFormatError) as raised:
        parse_isolated(b"\x89PNG\r\n\x1a\n", "image.png")
    with pytest.raises(UnsupportedFormatError) as expected:
        parse_document(b"\x89PNG\r\n\x1a\n", "image.png")
    assert raised.value.message == expected.value.message
    with pytest.raises(CorruptDocumentError):
        parse_isolated(b"%PDF-1.7 not really", "broken.pdf")


def test_a_parse_past_its_budget_is_killed() -> None:
    # One markdown-it call over a 1.6 MB line runs for many seconds without reaching a budget check
    # (the page limit is raised so the line is parsed at all): the child is killed from outside.
    hostile = ("**a " * 400_000).encode()
    limits = ParseLimits(max_seconds=1.0, max_page_chars=2_000_000, max_chars=10_000_000)
    started = time.perf_counter()
    with pytest.raises(CorruptDocumentError, match=r"took longer than 1\.3 s and was stopped"):
        parse_isolated(hostile, "slow.md", limits, grace_s=0.3)
    assert time.perf_counter() - started < 10  # killed, not waited for
