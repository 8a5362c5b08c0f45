"""Answer orchestrator: retrieve, check support, prompt, generate (gated, loop-guarded), ground, cite."""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field

from answer.compose import Generated, compose, extractive, refusal
from answer.condense import condense_question
from answer.gate import GenerationGate, Ticket
from answer.guard import guarded
from answer.prompt import SOURCE_FENCE, build_messages
from kernel.models import Answer, AnswerMode, ChatMessage, GenerationParams, Hit, SearchFilters, SearchMode
from kernel.payload import DENSE_VECTOR
from kernel.ports import ChatModel, PromptCounter
from kernel.pump import pumped
from kernel.settings import Settings
from retrieval.search import Searcher

log = logging.getLogger(__name__)


@dataclass
class AnswerPlan:
    """Everything decided before generation: the retrieval query, hits, prompt, or a refusal."""

    question: str
    query: str
    hits: list[Hit]
    supported: bool
    messages: list[ChatMessage] = field(default_factory=list)


class AnswerService:
    """Grounded answers from retrieved sources through one chat model."""

    def __init__(self, *, searcher: Searcher, chat: ChatModel, gate: GenerationGate, settings: Settings) -> None:
        self._searcher = searcher
        self._chat = chat
        self._gate = gate
        self._settings = settings

    @property
    def model_id(self) -> str:
        """The chat model's id."""
        return self._chat.model_id

    @property
    def gate(self) -> GenerationGate:
        """The admission gate every generation of this service goes through (metrics read its count)."""
        return self._gate

    def plan(
        self,
        question: str,
        *,
        collection: str,
        k: int | None = None,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
        history: Sequence[ChatMessage] = (),
    ) -> AnswerPlan:
        """Retrieve and build the prompt; refuse early when nothing relevant was found."""
        query = question
        if any(m.role == "user" for m in history):
            query = condense_question(self._chat, self._gate, history, question, method=self._settings.condense)
        k = k or self._settings.answer_k
        vector = self._searcher.embed_query(query, collection=collection)
        hits = self._searcher.search(
            query,
            collection=collection,
            k=k,
            mode=mode,
            filters=filters,
            query_vector=vector,
            diversity=self._settings.answer_diversity,
        ).hits
        # Fused (RRF) scores are ranks, not similarities: judge support on the dense cosine instead, in
        # the base model's space, where answer_min_score was calibrated (an adapted model's cosines differ).
        best = self._searcher.search(
            query,
            collection=collection,
            k=1,
            mode=SearchMode.DENSE,
            filters=filters,
            query_vector=vector,
            synthetic=False,
            space=DENSE_VECTOR,
        )
        top = best.hits[0].score if best.hits else -1.0
        supported = bool(hits) and top >= self._settings.answer_min_score
        log.info("answer plan: query=%r hits=%d best_dense=%.3f supported=%s", query, len(hits), top, supported)
        plan = AnswerPlan(question=question, query=query, hits=hits, supported=supported)
        if supported:
            plan.messages = build_messages(
                question, hits, history=history, max_source_chars=self._settings.answer_source_chars
            )
        return plan

    def params(self, *, max_tokens: int | None = None, temperature: float | None = None) -> GenerationParams:
        """Generation settings, request overrides first."""
        return GenerationParams(
            max_tokens=max_tokens or self._settings.answer_max_tokens,
            temperature=self._settings.answer_temperature if temperature is None else temperature,
            # A model that starts copying a fenced source block has stopped answering.
            stop=[SOURCE_FENCE],
            repeat_penalty=self._settings.answer_repeat_penalty,
        )

    def generate(self, plan: AnswerPlan, params: GenerationParams, *, mode: AnswerMode | None = None) -> Answer:
        """The whole answer in ``mode`` (default from settings); waits for the model, 429 when the queue is full."""
        stream = self.stream(plan, params, mode=mode)
        for _ in stream:
            pass
        return stream.result()

    def draft(self, plan: AnswerPlan, params: GenerationParams) -> Generated:
        """The model's loop-guarded text for ``plan``, before composition; waits for the model (429 when full)."""
        stream = self._guarded(plan, params, self._gate.reserve())
        while True:
            try:
                next(stream)
            except StopIteration as end:
                generated: Generated = end.value
                return generated

    def _guarded(self, plan: AnswerPlan, params: GenerationParams, ticket: Ticket) -> Generator[str, None, Generated]:
        """The checked text of one generation holding ``ticket``; returns what was kept and how it ended."""
        with ticket:
            pieces = self._chat.stream(plan.messages, params=params)
            generated = yield from guarded(pieces, max_tokens=params.max_tokens)
        if generated.stop_reason == "repetition" and isinstance(self._chat, PromptCounter):
            prompt_tokens = self._chat.count_prompt_tokens(plan.messages)
            generated = dataclasses.replace(generated, prompt_tokens=prompt_tokens)
        log.info("generated %d tokens, stop_reason=%s", generated.completion_tokens, generated.stop_reason)
        return generated

    def stream(self, plan: AnswerPlan, params: GenerationParams, *, mode: AnswerMode | None = None) -> AnswerStream:
        """Reserve a place now (429 at once if full); the stream yields checked text, then holds the Answer.

        Refusals and extractive answers need no model: their stream is the answer text in one piece.
        """
        mode = mode or self._settings.answer_mode
        if not needs_model(plan, mode):
            return AnswerStream.of(finish(plan, mode))
        ticket = self._gate.reserve()

        def run() -> Generator[str, None, Answer]:
            generated = yield from self._guarded(plan, params, ticket)
            return finish(plan, mode, generated)

        generator = run()
        # A generation that never starts (cancelled while it waited for the model) frees its place too.
        weakref.finalize(generator, ticket.release)
        # The generation runs in its own thread to its end, whatever the reader does: a client that stops
        # reading cannot keep the model or the queue place. A reader that stops early cancels it and
        # frees the place at once; the model is free after the token being decoded.
        return AnswerStream(pumped(generator, name="answer-generation", on_cancel=ticket.release))


def needs_model(plan: AnswerPlan, mode: AnswerMode) -> bool:
    """Whether the answer to ``plan`` in ``mode`` is written from a generation (not a refusal, not quotes)."""
    return plan.supported and mode is not AnswerMode.EXTRACTIVE


def finish(plan: AnswerPlan, mode: AnswerMode, generated: Generated | None = None) -> Answer:
    """The answer to ``plan`` in ``mode``: the refusal or the quotes, or ``generated`` composed (see
    :func:`needs_model`; a mode that needs the model without ``generated`` is a programming error)."""
    if not plan.supported:
        return refusal(plan.hits, mode=mode)
    if mode is AnswerMode.EXTRACTIVE:
        return extractive(plan.query, plan.hits)
    if generated is None:
        raise ValueError(f"answer mode {mode.value} needs the model's text")
    return compose(plan.query, plan.hits, generated, mode)


class AnswerStream:
    """Text pieces of an answer as they are released, then the whole Answer (:meth:`result`).

    In combined mode the final Answer can differ from the streamed text: unsupported sentences are dropped,
    or the extractive answer replaces a generation that failed the grounding check (``mode`` says which).
    """

    def __init__(self, pieces: Generator[str, None, Answer]) -> None:
        self._pieces = pieces
        self._answer: Answer | None = None

    @classmethod
    def of(cls, answer: Answer) -> AnswerStream:
        """A stream of a ready answer: its text in one piece."""

        def pieces() -> Generator[str, None, Answer]:
            yield answer.answer
            return answer

        return cls(pieces())

    def __iter__(self) -> Iterator[str]:
        try:
            self._answer = yield from self._pieces
        finally:
            self._pieces.close()

    def close(self) -> None:
        """Stop early: the model stops and its place in the queue is freed."""
        self._pieces.close()

    def result(self) -> Answer:
        """The Answer, once the stream has been read to its end."""
        if self._answer is None:
            raise RuntimeError("the answer stream has not been read to its end")
        return self._answer
