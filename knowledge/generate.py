"""Ask the teacher for chunk and document notes: schema-constrained, validated, repaired, retried, cached."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from kernel.errors import ModelError
from kernel.models import ChatMessage, GenerationParams
from kernel.ports import ChatModel
from knowledge import schemas as S
from knowledge.cache import GenerationCache
from knowledge.prompts import CHUNK_PROMPT, DOCUMENT_PROMPT, Prompt, load_prompt
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


class TeacherGenerator:
    """Generates ChunkNotes and DocumentNotes with one teacher model.

    Each attempt asks for schema-constrained JSON, repairs what small models break (cut output,
    raw newlines, over-long strings, extra items) and validates with pydantic. Up to
    ``max_attempts`` are made; transport errors back off exponentially between attempts.
    """

    def __init__(
        self,
        model: ChatModel,
        cache: GenerationCache,
        *,
        questions: int,
        max_attempts: int = 2,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._model = model
        self._cache = cache
        self._questions = questions
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._chunk_prompt = load_prompt(CHUNK_PROMPT, questions=questions)
        self._document_prompt = load_prompt(DOCUMENT_PROMPT)

    @property
    def model_id(self) -> str:
        """The teacher's model id."""
        return self._model.model_id

    @property
    def prompt_versions(self) -> str:
        """Versions of both prompts (part of the synthesis key)."""
        return f"{self._chunk_prompt.version}+{self._document_prompt.version}"

    def chunk_notes(self, text: str) -> Generated[S.ChunkNotes]:
        """Keywords, a one-sentence summary and Q&A pairs for one chunk."""
        passage = text[:MAX_INPUT_CHARS]
        return self._generate(
            self._chunk_prompt,
            f"Passage:\n{passage}",
            schema=S.chunk_schema(self._questions),
            model=S.ChunkNotes,
            normalize=lambda raw: _normalize_chunk(raw, self._questions),
            max_tokens=64 + 48 * self._questions,
        )

    def document_notes(
        self, title: str, chunk_summaries: Sequence[str], keywords: Sequence[str]
    ) -> Generated[S.DocumentNotes]:
        """A summary and metadata of a document, from its title and its chunks' notes (short input)."""
        lines = [f"Title: {title}", "Keywords: " + ", ".join(dict.fromkeys(keywords))]
        lines += [f"Part {i}: {summary}" for i, summary in enumerate(chunk_summaries, 1)]
        return self._generate(
            self._document_prompt,
            "\n".join(lines)[:MAX_INPUT_CHARS],
            schema=S.document_schema(),
            model=S.DocumentNotes,
            normalize=_normalize_document,
            max_tokens=160,
        )

    def _generate(
        self,
        prompt: Prompt,
        user: str,
        *,
        schema: dict[str, Any],
        model: type[NotesT],
        normalize: Callable[[dict[str, Any]], dict[str, Any]],
        max_tokens: int,
    ) -> Generated[NotesT]:
        cache_content = f"{prompt.system}\x00{user}"
        hit = self._cache.get(cache_content, model_id=self._model.model_id, prompt_version=prompt.version)
        if hit is not None:
            try:
                return Generated(notes=model.model_validate(hit), cached=True)
            except ValidationError:
                log.warning("cached generation no longer validates; generating again")
        messages = [ChatMessage(role="system", content=prompt.system), ChatMessage(role="user", content=user)]
        error = "no attempt made"
        tokens = 0
        started = time.perf_counter()
        for attempt in range(1, self._max_attempts + 1):
            params = GenerationParams(max_tokens=max_tokens, temperature=0.0 if attempt == 1 else RETRY_TEMPERATURE)
            try:
                completion = self._model.complete(messages, params=params, schema=schema)
            except ModelError as exc:
                error = f"teacher call failed: {exc.message}"
                if attempt < self._max_attempts:
                    self._sleep(self._backoff_s * 2 ** (attempt - 1))
                continue
            tokens += completion.completion_tokens
            try:
                notes, repaired = _validate(completion.text, model, normalize)
            except (ModelError, ValidationError) as exc:
                error = f"invalid output (attempt {attempt}, finish_reason={completion.finish_reason}): {_short(exc)}"
                continue
            seconds = time.perf_counter() - started
            self._cache.put(
                cache_content,
                notes.model_dump(mode="json"),
                model_id=self._model.model_id,
                prompt_version=prompt.version,
                completion_tokens=tokens,
                seconds=seconds,
            )
            return Generated(
                notes=notes, repaired=repaired, attempts=attempt, completion_tokens=tokens, seconds=seconds
            )
        return Generated(
            notes=None,
            attempts=self._max_attempts,
            completion_tokens=tokens,
            seconds=time.perf_counter() - started,
            error=error,
        )


def _validate(
    text: str, model: type[NotesT], normalize: Callable[[dict[str, Any]], dict[str, Any]]
) -> tuple[NotesT, bool]:
    """Parse (repairing broken JSON), normalize to the schema's bounds, validate; (notes, was repaired)."""
    raw = parse_json_object(text)
    try:
        exact = json.loads(text)
    except ValueError:
        exact = None
    fixed = normalize(raw)
    return model.model_validate(fixed), exact != fixed


def _clip(value: Any, limit: int) -> str:
    return " ".join(str(value).split())[:limit].strip() if isinstance(value, str | int | float) else ""


def _strings(values: Any, *, limit: int, max_items: int, min_length: int = 2) -> list[str]:
    if not isinstance(values, list):
        return []
    out = [_clip(v, limit) for v in values]
    return list(dict.fromkeys(v for v in out if len(v) >= min_length))[:max_items]


def _normalize_chunk(raw: dict[str, Any], questions: int) -> dict[str, Any]:
    pairs: list[dict[str, str]] = []
    items = raw.get("questions")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        question, answer = _clip(item.get("question"), S.QUESTION_MAX), _clip(item.get("answer"), S.ANSWER_MAX)
        if len(question) >= 8 and answer:
            pairs.append({"question": question, "answer": answer})
    return {
        "keywords": _strings(raw.get("keywords"), limit=S.KEYWORD_MAX, max_items=S.KEYWORDS_MAX_ITEMS),
        "summary": _clip(raw.get("summary"), S.SUMMARY_MAX),
        "questions": pairs[:questions],
    }


def _normalize_document(raw: dict[str, Any]) -> dict[str, Any]:
    kind = _clip(raw.get("type"), 40).lower()
    return {
        "title": _clip(raw.get("title"), S.TITLE_MAX),
        "type": kind if kind in S.DOCUMENT_TYPES else "other",
        "summary": _clip(raw.get("summary"), S.DOC_SUMMARY_MAX),
        "entities": _strings(raw.get("entities"), limit=S.ENTITY_MAX, max_items=S.ENTITIES_MAX_ITEMS),
        "dates": _strings(raw.get("dates"), limit=S.DATE_MAX, max_items=S.DATES_MAX_ITEMS),
    }


def _short(exc: Exception) -> str:
    text = exc.message if isinstance(exc, ModelError) else str(exc).replace("\n", " ")
    return text[:300]
