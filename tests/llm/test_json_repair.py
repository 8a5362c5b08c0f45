"""parse_json_object on hand-made outputs of the kinds grammar-constrained small models produce."""

from __future__ import annotations

import pytest

from kernel.errors import ModelError
from llm.json_repair import parse_json_object


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, "b": "x"}', {"a": 1, "b": "x"}),
        ('  {"a": [1, {"b": null}], "c": true}\n', {"a": [1, {"b": None}], "c": True}),
        # Escaped quotes and braces inside strings are content, not structure.
        ('{"q": "say \\"hi\\" {not a brace}"}', {"q": 'say "hi" {not a brace}'}),
    ],
)
def test_valid_json_passes_through(text: str, expected: dict[str, object]) -> None:
    assert parse_json_object(text) == expected


def test_raw_control_characters_inside_strings_are_escaped() -> None:
    text = '{"answer": "line one\nline two\tindented\r\x01end",\n "n": 2}'
    assert parse_json_object(text) == {"answer": "line one\nline two\tindented\r\x01end", "n": 2}


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": "b"}\n```',
        '```\n{"a": "b"}\n```\n',
        'Here is the JSON:\n{"a": "b"}\nHope this helps!',
        '{"a": "b"} {"c": "d"}',
    ],
)
def test_fences_and_surrounding_text_are_ignored(text: str) -> None:
    assert parse_json_object(text) == {"a": "b"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Cut inside a value string: keep the partial text.
        ('{"question": "What is the capi', {"question": "What is the capi"}),
        ('{"a": "x", "b": "line\nbrok', {"a": "x", "b": "line\nbrok"}),
        # Cut right after an escape character or inside a \u escape.
        ('{"a": "tab\\', {"a": "tab"}),
        ('{"a": "caf\\u00', {"a": "caf"}),
        # Unclosed containers.
        ('{"a": [1, 2', {"a": [1, 2]}),
        ('{"a": {"b": "c"', {"a": {"b": "c"}}),
        ('{"a": 12', {"a": 12}),
        # Dangling comma, key or colon: the unfinished member is dropped.
        ('{"a": 1,', {"a": 1}),
        ('{"a": 1, "b', {"a": 1}),
        ('{"a": 1, "b":', {"a": 1}),
        ('{"a": 1, "b": tr', {"a": 1}),
        ('{"a": {"b": 1, "c": [', {"a": {"b": 1, "c": []}}),
        ('{"items": [{"q": "x"}, {"q": "y', {"items": [{"q": "x"}, {"q": "y"}]}),
        ("{", {}),
        ('```json\n{"a": "b", "c": "d', {"a": "b", "c": "d"}),
    ],
)
def test_truncated_output_is_closed(text: str, expected: dict[str, object]) -> None:
    assert parse_json_object(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no JSON object"),
        ("I cannot answer that.", "no JSON object"),
        ('["a", "b"]', "no JSON object"),
        ('{"a": "unescaped "quote" inside"}', "not valid JSON"),
        ("{'a': 'single quotes'}", "not valid JSON"),
        ('{"a": 1]', "not valid JSON"),
    ],
)
def test_unrecoverable_output_is_a_model_error(text: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        parse_json_object(text)


def test_error_message_shows_the_start_of_the_output() -> None:
    with pytest.raises(ModelError) as info:
        parse_json_object("nothing here " * 50)
    assert "nothing here" in info.value.message
    assert info.value.message.endswith("...")
