"""Ask the teacher for chunk and document notes: compact or schema-constrained, validated, repaired, retried, cached."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from kernel.errors import ModelError
from kernel.models import ChatMessage, Completion, GenerationParams
from kernel.ports import BatchChatModel, ChatModel
from knowledge import schemas as S
from knowledge.cache import GenerationCache
from knowledge.compact import parse_compact
from knowledge.normalize import normalize_chunk, normalize_document
from knowledge.prompts import CHUNK_PROMPT, DOCUMENT_PROMPT, JSON_CHUNK_PROMPTS, Prompt, load_prompt
from llm.json_repair import parse_json_object

log = logging.getLogger(__name__)

NotesT = TypeVar("NotesT", bound=BaseModel)
#: Longest chunk text sent to the teacher (a chunk is ~200 word pieces; this is a guard, not a limit).
MAX_INPUT_CHARS = 4000
#: Sampling of later attempts: the first is greedy (reproducible); a retry must be able to differ.
RETRY_TEMPERATURE = 0.7


@dataclass(frozen=True, slots=True)
class Generated(Generic[NotesT]):
    """One generation's outcome: validated notes, or the error that made it fail."""

    notes: NotesT | None
    cached: bool = False
    repaired: bool = False
    attempts: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Request(Generic[NotesT]):
    """One generation to make: the prompt, the user message and how to read the reply."""

    prompt: Prompt
    user: str
    model: type[NotesT]
    parse: Callable[[str], dict[str, Any]]
    normalize: Callable[[dict[str, Any]], dict[str, Any]]
    max_tokens: int
    schema: dict[str, Any] | None = None
    scope: str = ""  # the tenant whose cache entries this request may read and write
    owner: str = ""  # the document the cache entry is recorded for (deleting it may remove the entry)

    @property
    def cache_content(self) -> str:
        return f"{self.prompt.system}\x00{self.user}"

    @property
    def messages(self) -> list[ChatMessage]:
        return [ChatMessage(role="system", content=self.prompt.system), ChatMessage(role="user", content=self.user)]


class TeacherGenerator:
    """Generates ChunkNotes and DocumentNotes with one teacher model.

    Each attempt asks for the notes (compact tagged lines for chunk prompts after chunk.v1, JSON
    under a schema otherwise), repairs what small models break (cut output, raw newlines, over-long
    strings, extra items) and validates with pydantic. Up to ``max_attempts`` are made; transport
    errors back off exponentially between attempts. :meth:`chunk_notes_many` sends first attempts
    through the model's ``complete_many`` in batches of ``batch_size`` when it has one.
    """

    def __init__(
        self,
        model: ChatModel,
        cache: GenerationCache,
        *,
        questions: int,
        max_attempts: int = 2,
        backoff_s: float = 0.5,
        batch_size: int = 8,
        chunk_prompt: str = CHUNK_PROMPT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._model = model
        self._cache = cache
        self._questions = questions
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._batch_size = max(1, batch_size)
        self._sleep = sleep
        self._chunk_json = chunk_prompt in JSON_CHUNK_PROMPTS
        self._chunk_prompt = load_prompt(chunk_prompt, questions=questions)
        self._document_prompt = load_prompt(DOCUMENT_PROMPT)

    @property
    def model_id(self) -> str:
        """The teacher's model id."""
        return self._model.model_id

    @property
    def prompt_versions(self) -> str:
        """Versions of both prompts (part of the synthesis key)."""
        return f"{self._chunk_prompt.version}+{self._document_prompt.version}"

    def chunk_notes(self, text: str, *, scope: str = "", owner: str = "") -> Generated[S.ChunkNotes]:
        """Keywords, a one-sentence summary, Q&A pairs and search queries for one chunk (cached within ``scope``).

        ``owner``: the document the chunk belongs to, recorded with its cache entry.
        """
        return self._generate(self._chunk_request(text, scope, owner))

    def chunk_notes_many(
        self,
        texts: Sequence[str],
        *,
        on_done: Callable[[int], None] | None = None,
        scope: str = "",
        owners: Sequence[str] | None = None,
    ) -> list[Generated[S.ChunkNotes]]:
        """:meth:`chunk_notes` for several chunks, in order: cached ones from the cache, the rest batched.

        First attempts go through the model's ``complete_many`` (greedy, ``batch_size`` at a time,
        under the prompt's schema if it has one) when the model has it; a failed item, or a whole batch the
        model rejects, gets its later attempts one by one as :meth:`chunk_notes` would.

        Args:
            texts: The chunks' texts.
            on_done: Called with the count of finished chunks each time one finishes.
            scope: The tenant: only its own cached generations are used, and new ones are cached for it only.
            owners: The document of each text, recorded with its cache entry (None: no owner recorded).
        """
        owned = [""] * len(texts) if owners is None else list(owners)
        if len(owned) != len(texts):
            raise ValueError(f"{len(owned)} owners for {len(texts)} texts")
        requests = [self._chunk_request(text, scope, owner) for text, owner in zip(texts, owned, strict=True)]
        results: list[Generated[S.ChunkNotes] | None] = [self._cached(r) for r in requests]
        done = 0

        def finish(index: int, result: Generated[S.ChunkNotes]) -> None:
            nonlocal done
            results[index] = result
            done += 1
            if on_done is not None:
                on_done(done)

        pending = [i for i, r in enumerate(results) if r is None]
        for index, hit in enumerate(results):
            if hit is not None:
                finish(index, hit)
        if not isinstance(self._model, BatchChatModel):
            for index in pending:
                finish(index, self._generate(requests[index], cached=False))
        else:
            for start in range(0, len(pending), self._batch_size):
                part = pending[start : start + self._batch_size]
                for index, result in zip(part, self._batch(self._model, [requests[i] for i in part]), strict=True):
                    finish(index, result)
        return [r for r in results if r is not None]

    def document_notes(
        self,
        title: str,
        chunk_summaries: Sequence[str],
        keywords: Sequence[str],
        *,
        scope: str = "",
        owner: str = "",
    ) -> Generated[S.DocumentNotes]:
        """A summary and metadata of a document, from its title and its chunks' notes (short input).

        ``owner``: the document's id, recorded with the cache entry.
        """
        lines = [f"Title: {title}", "Keywords: " + ", ".join(dict.fromkeys(keywords))]
        lines += [f"Part {i}: {summary}" for i, summary in enumerate(chunk_summaries, 1)]
        request = _Request(
            self._document_prompt,
            "\n".join(lines)[:MAX_INPUT_CHARS],
            S.DocumentNotes,
            parse=parse_json_object,
            normalize=normalize_document,
            max_tokens=160,
            schema=S.document_schema(),
            scope=scope,
            owner=owner,
        )
        return self._generate(request)

    def _chunk_request(self, text: str, scope: str, owner: str) -> _Request[S.ChunkNotes]:
        user = f"Passage:\n{text[:MAX_INPUT_CHARS]}"
        normalize = functools.partial(normalize_chunk, questions=self._questions)
        if self._chunk_json:
            return _Request(
                self._chunk_prompt,
                user,
                S.ChunkNotes,
                parse=parse_json_object,
                normalize=normalize,
                max_tokens=64 + 48 * self._questions,
                schema=S.chunk_schema(self._questions),
                scope=scope,
                owner=owner,
            )
        # Keywords and summary take ~40 tokens, a Q&A line ~30, the two query lines ~35.
        return _Request(
            self._chunk_prompt,
            user,
            S.ChunkNotes,
            parse=parse_compact,
            normalize=normalize,
            max_tokens=80 + 36 * self._questions,
            scope=scope,
            owner=owner,
        )

    def _cached(self, request: _Request[NotesT]) -> Generated[NotesT] | None:
        hit = self._cache.get(
            request.cache_content,
            model_id=self._model.model_id,
            prompt_version=request.prompt.version,
            scope=request.scope,
            owner=request.owner,
        )
        if hit is None:
            return None
        try:
            return Generated(notes=request.model.model_validate(hit), cached=True)
        except ValidationError:
            log.warning("cached generation no longer validates; generating again")
            return None

    def _batch(self, model: BatchChatModel, requests: Sequence[_Request[NotesT]]) -> list[Generated[NotesT]]:
        """First attempts of ``requests`` in one ``complete_many`` call; later attempts one by one."""
        started = time.perf_counter()
        params = GenerationParams(max_tokens=max(r.max_tokens for r in requests), temperature=0.0)
        completions: list[Completion | None] = [None] * len(requests)
        failed = "no attempt made"
        try:
            schema = requests[0].schema  # one prompt, one schema (or none) for the whole batch
            completions = list(model.complete_many([r.messages for r in requests], params=params, schema=schema))
        except ModelError as exc:
            failed = f"teacher call failed: {exc.message}"
        # The batch's time is shared evenly: its items were decoded together.
        share = (time.perf_counter() - started) / len(requests)
        out: list[Generated[NotesT]] = []
        for request, completion in zip(requests, completions, strict=True):
            begun = time.perf_counter() - share
            if completion is None:
                out.append(self._generate(request, cached=False, first=2, error=failed, begun=begun))
                continue
            tokens = completion.completion_tokens
            try:
                notes, repaired = _validate(completion.text, request)
            except (ModelError, ValidationError) as exc:
                error = f"invalid output (attempt 1, finish_reason={completion.finish_reason}): {_short(exc)}"
                out.append(self._generate(request, cached=False, first=2, error=error, begun=begun, tokens=tokens))
                continue
            out.append(self._accept(request, notes, repaired, attempt=1, tokens=tokens, begun=begun))
        return out

    def _accept(
        self, request: _Request[NotesT], notes: NotesT, repaired: bool, *, attempt: int, tokens: int, begun: float
    ) -> Generated[NotesT]:
        seconds = time.perf_counter() - begun
        self._cache.put(
            request.cache_content,
            notes.model_dump(mode="json"),
            model_id=self._model.model_id,
            prompt_version=request.prompt.version,
            completion_tokens=tokens,
            seconds=seconds,
            scope=request.scope,
            owner=request.owner,
        )
        return Generated(notes=notes, repaired=repaired, attempts=attempt, completion_tokens=tokens, seconds=seconds)

    def _generate(
        self,
        request: _Request[NotesT],
        *,
        cached: bool = True,
        first: int = 1,
        error: str = "no attempt made",
        begun: float | None = None,
        tokens: int = 0,
    ) -> Generated[NotesT]:
        """Attempts ``first`` .. ``max_attempts`` one by one (after a cache look-up when ``cached``)."""
        if cached:
            hit = self._cached(request)
            if hit is not None:
                return hit
        started = time.perf_counter() if begun is None else begun
        for attempt in range(first, self._max_attempts + 1):
            params = GenerationParams(
                max_tokens=request.max_tokens, temperature=0.0 if attempt == 1 else RETRY_TEMPERATURE
            )
            try:
                completion = self._model.complete(request.messages, params=params, schema=request.schema)
            except ModelError as exc:
                error = f"teacher call failed: {exc.message}"
                if attempt < self._max_attempts:
                    self._sleep(self._backoff_s * 2 ** (attempt - 1))
                continue
            tokens += completion.completion_tokens
            try:
                notes, repaired = _validate(completion.text, request)
            except (ModelError, ValidationError) as exc:
                error = f"invalid output (attempt {attempt}, finish_reason={completion.finish_reason}): {_short(exc)}"
                continue
            return self._accept(request, notes, repaired, attempt=attempt, tokens=tokens, begun=started)
        return Generated(
            notes=None,
            attempts=self._max_attempts,
            completion_tokens=tokens,
            seconds=time.perf_counter() - started,
            error=error,
        )


def _validate(text: str, request: _Request[NotesT]) -> tuple[NotesT, bool]:
    """Parse (repairing what is broken), normalize to the schema's bounds, validate; (notes, was repaired)."""
    raw = request.parse(text)
    exact: Any = raw
    if request.schema is not None:
        try:
            exact = json.loads(text)
        except ValueError:
            exact = None
    fixed = request.normalize(raw)
    return request.model.model_validate(fixed), exact != fixed


def _short(exc: Exception) -> str:
    text = exc.message if isinstance(exc, ModelError) else str(exc).replace("\n", " ")
    return text[:300]
