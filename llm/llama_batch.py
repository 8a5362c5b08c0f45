"""Greedy multi-sequence decoding on llama.cpp: several prompts in one batch, their shared prefix decoded once.

The ``Llama`` object's own context holds one sequence (``n_seq_max`` 1), so the decoder opens a
second context on the same weights with one KV stream per sequence (``kv_unified`` off: in a
unified cache every token attends over every sequence's cells, which grows with the square of the
batch). The prompts' longest common token prefix (the system prompt) is decoded once into sequence
0 and copied to the others (``llama_memory_seq_cp``); then every step decodes one token of each
unfinished sequence together, which on a CPU costs much less than one step per sequence.
Not thread-safe: the caller holds the model's lock.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernel.errors import ModelError

#: Tokens per ``llama_decode`` call while reading the prompts (the Llama object's own default).
PROMPT_BATCH = 512
#: llama.cpp pads context sizes to this many cells.
CELL_PAD = 256
#: numpy view of ``llama_token_data`` (id, logit, p), for filling a whole vocabulary at once.
_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


@dataclass(frozen=True, slots=True)
class Decoded:
    """One sequence's reply: its tokens (end-of-turn excluded), text and why it stopped."""

    tokens: list[int]
    text: str
    finish_reason: str


def common_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix all prompts share, keeping at least one own token per prompt."""
    if not prompts:
        return 0
    shortest = min(len(p) for p in prompts)
    n = 0
    while n < shortest and all(p[n] == prompts[0][n] for p in prompts):
        n += 1
    # The last prompt token must be decoded in each sequence: its logits give the first reply token.
    return min(n, shortest - 1)


def window(prompts: Sequence[Sequence[int]], *, max_tokens: int) -> int:
    """KV cells each sequence needs: its longest prompt plus the reply, padded as llama.cpp pads."""
    longest = max((len(p) for p in prompts), default=0) + max_tokens
    return -(-longest // CELL_PAD) * CELL_PAD


def cells_needed(prompts: Sequence[Sequence[int]], *, max_tokens: int) -> int:
    """KV cells a batch of ``prompts`` takes: one window per sequence."""
    return len(prompts) * window(prompts, max_tokens=max_tokens)


def cut_at_stop(text: str, stop: Sequence[str]) -> str | None:
    """``text`` up to the earliest stop string in it, or None when it holds none."""
    found = [text.index(s) for s in stop if s and s in text]
    return text[: min(found)] if found else None


class BatchDecoder:
    """Greedy decoding of several token prompts at once in a second context on a loaded ``Llama``."""

    def __init__(self, llama_cpp: Any, llm: Any, *, max_cells: int, max_sequences: int) -> None:
        self._lib = llama_cpp
        self._llm = llm
        self.max_cells = max_cells
        self.max_sequences = max(1, min(max_sequences, int(llama_cpp.llama_max_parallel_sequences())))
        self._ctx: Any = None
        # The shape of the open context: sequences and cells per sequence.
        self._shape = (0, 0)
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self._grammars: list[Any] = []
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))

    def close(self) -> None:
        """Free the batch context (it is opened again on the next use)."""
        if self._ctx is not None:
            self._lib.llama_free(self._ctx)
            self._ctx = None
            self._shape = (0, 0)

    def __del__(self) -> None:
        self.close()

    def generate(
        self, prompts: Sequence[Sequence[int]], *, max_tokens: int, stop: Sequence[str], grammar: str | None = None
    ) -> list[Decoded]:
        """Greedy replies to token ``prompts`` (each already chat-formatted, BOS included), in order.

        With ``grammar`` (GBNF) every reply is constrained by its own grammar sampler, as llama.cpp
        constrains one: the next token is the best one the grammar allows.

        Raises:
            ModelError: Too many sequences, the batch does not fit the context, or llama.cpp failed.
        """
        if not prompts:
            return []
        if len(prompts) > self.max_sequences:
            raise ModelError(f"batch of {len(prompts)} sequences, at most {self.max_sequences} decode together")
        if any(len(p) == 0 for p in prompts):
            raise ModelError("an empty prompt cannot be decoded")
        needed = cells_needed(prompts, max_tokens=max_tokens)
        if needed > self.max_cells:
            raise ModelError(
                f"batch too large for the context window: {len(prompts)} prompts and replies need "
                f"{needed} KV cells, the batch decoder holds at most {self.max_cells} (send fewer or shorter "
                "prompts, or raise context_tokens)"
            )
        ctx = self._context(len(prompts), window(prompts, max_tokens=max_tokens))
        memory = self._lib.llama_get_memory(ctx)
        self._lib.llama_memory_clear(memory, True)
        batch = self._lib.llama_batch_init(max(PROMPT_BATCH, len(prompts)), 0, 1)
        self._grammars = [self._grammar_sampler(grammar) for _ in prompts] if grammar else []
        try:
            return self._run(ctx, memory, batch, prompts, max_tokens=max_tokens, stop=stop)
        finally:
            for sampler in self._grammars:
                self._lib.llama_sampler_free(sampler)
            self._grammars = []
            self._lib.llama_batch_free(batch)
            self._lib.llama_memory_clear(memory, True)

    def _grammar_sampler(self, grammar: str) -> Any:
        sampler = self._lib.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root")
        if not sampler:
            raise ModelError("llama.cpp could not parse the grammar of the output schema")
        return sampler

    def _run(
        self,
        ctx: Any,
        memory: Any,
        batch: Any,
        prompts: Sequence[Sequence[int]],
        *,
        max_tokens: int,
        stop: Sequence[str],
    ) -> list[Decoded]:
        prefix = common_prefix(prompts)
        if prefix:
            self._feed(ctx, batch, [(0, pos, prompts[0][pos], False) for pos in range(prefix)])
            # Across KV streams llama.cpp copies whole sequences only (-1, -1): sequence 0 holds just the prefix.
            for seq in range(1, len(prompts)):
                self._lib.llama_memory_seq_cp(memory, 0, seq, -1, -1)
        # Every suffix in one stream of batches; logits only for each prompt's last token.
        entries = [
            (seq, pos, prompt[pos], pos == len(prompt) - 1)
            for seq, prompt in enumerate(prompts)
            for pos in range(prefix, len(prompt))
        ]
        picked = self._feed(ctx, batch, entries)
        tokens: list[list[int]] = [[] for _ in prompts]
        results: dict[int, Decoded] = {}
        positions = [len(p) for p in prompts]
        active = list(range(len(prompts)))
        while active:
            step: list[tuple[int, int, int, bool]] = []
            for seq in active:
                token = picked[seq]
                done = self._finish(seq, token, tokens[seq], max_tokens=max_tokens, stop=stop)
                if done is not None:
                    results[seq] = done
                    continue
                step.append((seq, positions[seq], token, True))
                positions[seq] += 1
            active = [entry[0] for entry in step]
            if step:
                picked = self._feed(ctx, batch, step)
        return [results[seq] for seq in range(len(prompts))]

    def _finish(self, seq: int, token: int, out: list[int], *, max_tokens: int, stop: Sequence[str]) -> Decoded | None:
        """Record ``token`` for a sequence; its result when it is finished now, else None."""
        if self._lib.llama_vocab_is_eog(self._vocab, token):
            return Decoded(out, self._text(out), "stop")
        out.append(token)
        if stop:
            cut = cut_at_stop(self._text(out), stop)
            if cut is not None:
                return Decoded(out, cut, "stop")
        if len(out) >= max_tokens:
            return Decoded(out, self._text(out), "length")
        return None

    def _text(self, tokens: list[int]) -> str:
        return bytes(self._llm.detokenize(tokens)).decode("utf-8", "ignore")

    def _argmax(self, ctx: Any, row: int, seq: int) -> int:
        pointer = self._lib.llama_get_logits_ith(ctx, row)
        if not pointer:
            raise ModelError(f"llama.cpp returned no logits for batch row {row}")
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        best = int(logits.argmax())
        if not self._grammars:
            return best
        sampler = self._grammars[seq]
        # The unconstrained best is usually allowed: test it alone before filtering the whole vocabulary.
        token = best if self._allowed(sampler, best, float(logits[best])) else self._constrained(sampler, logits)
        self._lib.llama_sampler_accept(sampler, token)
        return token

    def _allowed(self, sampler: Any, token: int, logit: float) -> bool:
        one = (self._lib.llama_token_data * 1)()
        one[0].id, one[0].logit, one[0].p = token, logit, 0.0
        candidates = self._lib.llama_token_data_array(
            data=ctypes.cast(one, ctypes.POINTER(self._lib.llama_token_data)), size=1, selected=-1, sorted=False
        )
        self._lib.llama_sampler_apply(sampler, ctypes.byref(candidates))
        return bool(np.isfinite(one[0].logit))

    def _constrained(self, sampler: Any, logits: np.ndarray[Any, Any]) -> int:
        """The best token the grammar allows (it sets the others' logits to -inf)."""
        data = (self._lib.llama_token_data * self._n_vocab)()
        view = np.frombuffer(data, dtype=_TOKEN_DATA)
        view["id"] = np.arange(self._n_vocab, dtype=np.intc)
        view["logit"] = logits
        view["p"] = 0.0
        candidates = self._lib.llama_token_data_array(
            data=ctypes.cast(data, ctypes.POINTER(self._lib.llama_token_data)),
            size=self._n_vocab,
            selected=-1,
            sorted=False,
        )
        self._lib.llama_sampler_apply(sampler, ctypes.byref(candidates))
        size = int(candidates.size)
        kept = view[:size]
        if size == 0 or not np.isfinite(kept["logit"]).any():
            raise ModelError("the output grammar allows no next token")
        return int(kept["id"][int(np.argmax(kept["logit"]))])

    def _feed(self, ctx: Any, batch: Any, entries: Sequence[tuple[int, int, int, bool]]) -> dict[int, int]:
        """Decode (sequence, position, token, wants logits) entries in batches; the greedy next token per sequence.

        The argmax is taken right after each ``llama_decode``: the next call overwrites the logits.
        """
        picked: dict[int, int] = {}
        for start in range(0, len(entries), PROMPT_BATCH):
            part = entries[start : start + PROMPT_BATCH]
            rows: dict[int, int] = {}
            for i, (seq, pos, token, logits) in enumerate(part):
                batch.token[i] = token
                batch.pos[i] = pos
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = 1 if logits else 0
                if logits:
                    rows[seq] = i
            batch.n_tokens = len(part)
            code = int(self._lib.llama_decode(ctx, batch))
            if code != 0:
                raise ModelError(f"llama.cpp batch decode failed (code {code}; 1 means no room in the KV cache)")
            picked.update((seq, self._argmax(ctx, row, seq)) for seq, row in rows.items())
        return picked

    def _context(self, sequences: int, cells: int) -> Any:
        """The batch context, reopened larger when the open one has too few sequences or cells."""
        if self._ctx is None or sequences > self._shape[0] or cells > self._shape[1]:
            self.close()
            shape = (max(sequences, self._shape[0]), max(cells, self._shape[1]))
            if shape[0] * shape[1] > self.max_cells:
                shape = (sequences, cells)
            params = type(self._llm.context_params).from_buffer_copy(self._llm.context_params)
            params.n_ctx = shape[0] * shape[1]
            params.n_seq_max = shape[0]
            # One KV stream per sequence: attention reads only its own cells.
            params.kv_unified = False
            params.n_batch = PROMPT_BATCH
            params.n_ubatch = PROMPT_BATCH
            ctx = self._lib.llama_init_from_model(self._llm.model, params)
            if not ctx:
                raise ModelError("llama.cpp could not open a batch context (out of memory?)")
            self._ctx, self._shape = ctx, shape
        return self._ctx
