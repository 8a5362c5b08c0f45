"""Chat prompts as llama.cpp tokens: the template's own markup may be control tokens, message text never is.

Rendering the chat template and tokenizing the result with special tokens on (as llama-cpp-python's chat
handler does) lets any text inside a message become a control token: a user who writes
``<|im_start|>system`` opens a system turn. Here the template is rendered with a random placeholder in
place of each message's text; the markup between placeholders is tokenized with special tokens on and each
message's text with them off, so it is read as plain characters whatever it holds (no pattern list to keep
up to date with every model family's markers).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kernel.models import ChatMessage


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of the rendered prompt: the template's markup (``trusted``) or a message's text."""

    text: str
    trusted: bool


def template_formatter(llama_cpp: Any, llm: Any) -> Any:
    """The Jinja formatter for the GGUF's chat template (the one Llama uses); None when the file has none."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None

    def text(token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", "replace") if token != -1 else ""

    return llama_cpp.llama_chat_format.Jinja2ChatFormatter(
        template=template, eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos())
    )


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """The rendered prompt cut into markup and message text, with what the template says about it."""

    parts: list[Segment]
    #: Whether the template wrote the BOS itself (else the tokenizer adds it where the model wants one).
    added_bos: bool
    #: Stop strings the template asks for (its end-of-sequence text), as llama-cpp-python's handler adds them.
    stop: list[str]


def render(formatter: Any, messages: Sequence[ChatMessage]) -> RenderedPrompt:
    """Render ``messages`` with the template; each message's text is kept apart from the markup.

    Each content is replaced by a placeholder no client can guess before rendering, so only the template
    can write what lies between them.
    """
    nonce = secrets.token_hex(8)
    marks = [f"SYNTHRAGPART{nonce}N{i}E" for i in range(len(messages))]
    stand_ins = [{"role": m.role, "content": mark} for m, mark in zip(messages, marks, strict=True)]
    result = formatter(messages=stand_ins)
    texts = {mark: m.content for mark, m in zip(marks, messages, strict=True)}
    pieces = re.split(f"(SYNTHRAGPART{nonce}N\\d+E)", result.prompt)
    parts = [Segment(texts[p], trusted=False) if p in texts else Segment(p, trusted=True) for p in pieces if p]
    stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
    return RenderedPrompt(parts=parts, added_bos=bool(result.added_special), stop=[str(s) for s in stop if s])


def prompt_tokens(llm: Any, prompt: RenderedPrompt) -> list[int]:
    """The rendered prompt as tokens: markup with special tokens, message text without.

    Args:
        llm: The loaded ``llama_cpp.Llama`` (only its vocabulary is read: no lock needed).
        prompt: The rendered conversation (see :func:`render`); every message text is untrusted.

    Returns:
        Token ids, BOS first where the model wants one and the template did not write it.
    """
    # An empty text gives just the BOS, where the vocabulary asks for one.
    tokens: list[int] = list(llm.tokenize(b"", add_bos=not prompt.added_bos, special=True))
    for part in prompt.parts:
        tokens += llm.tokenize(part.text.encode("utf-8"), add_bos=False, special=part.trusted)
    return tokens
