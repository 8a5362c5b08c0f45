"""Answer orchestrator: retrieve, check support, prompt, generate (gated), cite."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from answer.citations import map_citations
from answer.condense import condense_question
from answer.gate import GenerationGate
from answer.prompt import REFUSAL, SOURCE_FENCE, build_messages
from kernel.models import Answer, ChatMessage, GenerationParams, Hit, SearchFilters, SearchMode
from kernel.ports import ChatModel
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
        vector = self._searcher.embed_query(query)
        hits = self._searcher.search(
            query,
            collection=collection,
            k=k,
            mode=mode,
            filters=filters,
            query_vector=vector,
            diversity=self._settings.answer_diversity,
        ).hits
        # Fused (RRF) scores are ranks, not similarities: judge support on the dense cosine instead.
        best = self._searcher.search(
            query,
            collection=collection,
            k=1,
            mode=SearchMode.DENSE,
            filters=filters,
            query_vector=vector,
            synthetic=False,
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
        )

    def generate(self, plan: AnswerPlan, params: GenerationParams) -> Answer:
        """Generate the whole answer (waits for the model; 429 when the queue is full)."""
        if not plan.supported:
            return refusal(plan)
        with self._gate.reserve():
            completion = self._chat.complete(plan.messages, params=params)
        answer = finish(plan, completion.text)
        return answer.model_copy(
            update={
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
            }
        )

    def stream(self, plan: AnswerPlan, params: GenerationParams) -> Iterator[str]:
        """Reserve a place now (429 at once if full), then yield text pieces as they come."""
        if not plan.supported:
            return iter([REFUSAL])
        ticket = self._gate.reserve()

        def pieces() -> Iterator[str]:
            with ticket:
                yield from self._chat.stream(plan.messages, params=params)

        generator = pieces()
        # A client that disconnects before the first piece never runs the body: free the place anyway.
        weakref.finalize(generator, ticket.release)
        return generator


def refusal(plan: AnswerPlan) -> Answer:
    """The answer given when the documents do not support one."""
    return Answer(answer=REFUSAL, citations=[], hits=plan.hits, refused=True)


def finish(plan: AnswerPlan, text: str) -> Answer:
    """Map citations of a generated answer; an empty answer or one where the model refuses is a refusal."""
    if not plan.supported or not text.strip() or REFUSAL.lower().rstrip(".") in text.lower():
        return refusal(plan)
    cleaned, citations, invalid = map_citations(text.strip(), plan.hits)
    return Answer(answer=cleaned, citations=citations, hits=plan.hits, invalid_citations=invalid)
