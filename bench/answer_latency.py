"""Streamed answer latency: /v1/chat/completions vs raw llama-cpp-python on the same prompt, interleaved."""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from app.components import Components, build_components
from app.main import create_app
from bench.stats import machine, percentile
from ingest.files import collect_files, load_item
from kernel.models import GenerationParams
from kernel.settings import Settings, get_settings
from llm.factory import create_chat_model
from llm.llama_cpp import SEED, LlamaCppChatModel
from tests.fixtures_docs import write_sample_folder

QUESTIONS = (
    "How is honey harvested from the frames?",
    "What kind of lava do shield volcanoes erupt?",
    "What did Augustin Fresnel design in 1822?",
)
# Warms both models up on a prompt that is not measured (the first decode pays lazy set-up).
WARMUP_QUESTION = "How often should a sourdough starter be fed?"


@dataclass
class Sample:
    """One streamed generation: time to first content, total time, content pieces, and the text."""

    ttft_ms: float
    total_ms: float
    chunks: int
    tokens_per_s: float
    text: str


def timed(pieces: Iterator[str]) -> Sample:
    """Consume a lazy iterator of content pieces, timing the first and last one."""
    started = time.perf_counter()
    first = last = started
    text: list[str] = []
    for piece in pieces:
        last = time.perf_counter()
        if not text:
            first = last
        text.append(piece)
    total = time.perf_counter() - started
    rate = (len(text) - 1) / (last - first) if len(text) > 1 and last > first else 0.0
    return Sample((first - started) * 1000, total * 1000, len(text), rate, "".join(text))


def service_pieces(client: httpx.Client, question: str, max_tokens: int) -> Iterator[str]:
    """Content deltas of a streamed POST /v1/chat/completions (the request starts on first next())."""
    messages = [{"role": "user", "content": question}]
    body = {"model": "synthrag", "messages": messages, "stream": True, "max_tokens": max_tokens}
    with client.stream("POST", "/v1/chat/completions", json={**body, "temperature": 0.0}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[len("data: ") :])
            if "error" in chunk:
                raise RuntimeError(f"service stream failed: {chunk['error']}")
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece


def raw_pieces(llm: Any, messages: list[dict[str, str]], params: GenerationParams) -> Iterator[str]:
    """Content deltas of llama-cpp-python's own streamed chat completion (same kwargs as the adapter)."""
    kwargs = {
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "repeat_penalty": params.repeat_penalty,
    }
    chunks = llm.create_chat_completion(messages=messages, stream=True, stop=None, seed=SEED, **kwargs)
    for chunk in chunks:
        piece = chunk["choices"][0]["delta"].get("content")
        if piece:
            yield piece


class Server:
    """The real app under uvicorn on a free loopback port, in a daemon thread."""

    def __init__(self, settings: Settings, components: Components) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        app = create_app(settings, components=lambda _settings: components)
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self._thread = threading.Thread(target=self._server.run, args=([self._socket],), daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the synthrag app did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True  # the lifespan closes the components
        self._thread.join(timeout=30)
        self._socket.close()


def retrieval_sample(client: httpx.Client, components: Components, question: str) -> dict[str, float]:
    """Retrieval timed three ways (ms): the two searches AnswerService.plan runs (top answer_k in the
    default mode, dense top-1) as /v1/search round trips and as their server-side embed+store time,
    and plan() itself in-process (both searches plus prompt building)."""
    settings = components.settings
    started = time.perf_counter()
    server = 0.0
    for body in ({"query": question, "k": settings.answer_k}, {"query": question, "k": 1, "mode": "dense"}):
        response = client.post("/v1/search", json=body)
        response.raise_for_status()
        timings = response.json()["timings"]
        server += timings["embed_ms"] + timings["store_ms"]
    rtt = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    components.answer_service().plan(question, collection=settings.collection)
    plan = (time.perf_counter() - started) * 1000
    return {"search_rtt_ms": rtt, "search_server_ms": server, "plan_ms": plan}


def summary(samples: list[Sample]) -> dict[str, float]:
    """Medians of one path's samples."""
    return {
        "ttft_ms": round(percentile([s.ttft_ms for s in samples], 50), 2),
        "total_ms": round(percentile([s.total_ms for s in samples], 50), 2),
        "tokens_per_s": round(percentile([s.tokens_per_s for s in samples], 50), 2),
        "chunks": percentile([s.chunks for s in samples], 50),
    }


def prompts_for(
    components: Components, chat: LlamaCppChatModel, questions: list[str]
) -> tuple[dict[str, list[dict[str, str]]], dict[str, int]]:
    """The exact messages the service will send to the model for each question, and their tokens."""
    svc = components.answer_service()
    prompts, tokens = {}, {}
    for question in questions:
        plan = svc.plan(question, collection=components.settings.collection)
        if not plan.supported:
            raise RuntimeError(f"the service would refuse {question!r}; pick another question")
        prompts[question] = [{"role": m.role, "content": m.content} for m in plan.messages]
        tokens[question] = chat.count_prompt_tokens(plan.messages)
    return prompts, tokens


def measure(
    components: Components, llm: Any, prompts: dict[str, list[dict[str, str]]], reps: int, max_tokens: int
) -> tuple[dict[str, list[Sample]], dict[str, list[float]]]:
    """Serve the app, warm both paths up, then alternate service and raw generations one at a time."""
    settings = components.settings
    params = components.answer_service().params(max_tokens=max_tokens, temperature=0.0)
    samples: dict[str, list[Sample]] = {"service": [], "raw": []}
    retrieval: dict[str, list[float]] = {"search_rtt_ms": [], "search_server_ms": [], "plan_ms": []}
    with Server(settings, components) as server, httpx.Client(base_url=server.base_url, timeout=300) as client:
        paths: dict[str, Callable[[str], Iterator[str]]] = {
            "service": lambda q: service_pieces(client, q, max_tokens),
            "raw": lambda q: raw_pieces(llm, prompts[q], params),
        }
        for path in paths.values():
            timed(path(WARMUP_QUESTION))
        retrieval_sample(client, components, WARMUP_QUESTION)
        for rep in range(reps):
            for i, question in enumerate(QUESTIONS):
                # Which path goes first alternates so that neither always follows the other.
                order = ("service", "raw") if (rep + i) % 2 == 0 else ("raw", "service")
                for name in order:
                    samples[name].append(timed(paths[name](question)))
                for part, ms in retrieval_sample(client, components, question).items():
                    retrieval[part].append(ms)
    return samples, retrieval


def run(reps: int, max_tokens: int) -> dict[str, Any]:
    """Ingest the sample folder with real components, then measure both paths on the same prompts."""
    with tempfile.TemporaryDirectory(prefix="synthrag-bench-") as tmp:
        # The model's text, not quotes instead of it: this measures streaming generation.
        settings = get_settings(data_dir=Path(tmp) / "data", answer_mode="generated")
        chat = create_chat_model(settings.llm)
        if not isinstance(chat, LlamaCppChatModel):
            raise RuntimeError("the answer benchmark compares the service with raw llama-cpp: use its backend")
        components = build_components(settings, chat=chat)
        try:
            found, problems = collect_files(write_sample_folder(Path(tmp) / "docs"))
            if problems:
                raise RuntimeError(f"sample folder problems: {problems}")
            components.ingest.ingestor.ingest((load_item(f) for f in found), collection=settings.collection)
            prompts, tokens = prompts_for(components, chat, [WARMUP_QUESTION, *QUESTIONS])
            llm = chat.raw_twin()
            samples, retrieval = measure(components, llm, prompts, reps, max_tokens)
            model_id = components.answer_service().model_id
        finally:
            components.close()  # idempotent; the app's lifespan has usually closed it already
    service, raw = summary(samples["service"]), summary(samples["raw"])
    search = {name: round(percentile(values, 50), 2) for name, values in retrieval.items()}
    pairs = list(zip(samples["service"], samples["raw"], strict=True))  # same rep and question
    diffs = [s.ttft_ms - r.ttft_ms for s, r in pairs]
    extra = percentile(diffs, 50)
    ttft_ratio = percentile([s.ttft_ms / r.ttft_ms for s, r in pairs], 50)
    rate_pct = percentile([(r.tokens_per_s / s.tokens_per_s - 1) * 100 for s, r in pairs], 50)
    return {
        "benchmark": "answer_latency",
        "model": model_id,
        "threads": settings.llm.threads,
        "context_tokens": settings.llm.context_tokens,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "reps": reps,
        "questions": list(QUESTIONS),
        "prompt_tokens": {q: tokens[q] for q in QUESTIONS},
        "machine": machine(),
        "service": service,
        "raw": raw,
        "retrieval": search,
        "identical_text_fraction": round(sum(s.text == r.text for s, r in pairs) / len(pairs), 3),
        "overhead": {
            # Ratios of the medians above, then medians over pairs (same rep and question): the
            # paired ones cancel load that shifts during the run and are the ones to quote.
            "ttft_ratio": round(service["ttft_ms"] / raw["ttft_ms"], 3),
            "tokens_per_s_pct": round((raw["tokens_per_s"] / service["tokens_per_s"] - 1) * 100, 2),
            "ttft_ratio_paired": round(ttft_ratio, 3),
            "tokens_per_s_pct_paired": round(rate_pct, 2),
            "ttft_extra_ms_paired": round(extra, 2),
            "ttft_extra_ms_paired_p25_p75": [round(percentile(diffs, q), 2) for q in (25, 75)],
            "ttft_extra_minus_plan_ms": round(extra - search["plan_ms"], 2),
        },
    }


def to_markdown(report: dict[str, Any]) -> str:
    """A Markdown table of the report."""
    service, raw, search, over = report["service"], report["raw"], report["retrieval"], report["overhead"]
    tokens = ", ".join(str(n) for n in report["prompt_tokens"].values())
    lines = [
        f"Streamed answer latency, {report['model']}, {report['threads']} threads, "
        f"max_tokens={report['max_tokens']}, temperature 0, {report['reps']} reps x "
        f"{len(report['questions'])} questions (prompt tokens {tokens}), interleaved; medians; "
        f"machine {report['machine']}",
        "",
        "| path | TTFT ms | total ms | tokens/s | chunks |",
        "|---|---|---|---|---|",
    ]
    for name, row in (("service /v1/chat/completions", service), ("raw llama-cpp-python", raw)):
        lines.append(f"| {name} | {row['ttft_ms']} | {row['total_ms']} | {row['tokens_per_s']} | {row['chunks']} |")
    lines += [
        "",
        "| retrieval part | ms |",
        "|---|---|",
        f"| /v1/search x2 (top-k default mode + dense top-1), round trip | {search['search_rtt_ms']} |",
        f"| same two searches, server-side embed+store | {search['search_server_ms']} |",
        f"| AnswerService.plan in-process (searches + prompt) | {search['plan_ms']} |",
        "",
        "| overhead (service vs raw) | ratio of medians | median of pairs |",
        "|---|---|---|",
        f"| TTFT service / raw | {over['ttft_ratio']} | {over['ttft_ratio_paired']} |",
        f"| raw tok/s / service tok/s - 1 | {over['tokens_per_s_pct']:+}% | {over['tokens_per_s_pct_paired']:+}% |",
        "",
        f"- paired TTFT difference {over['ttft_extra_ms_paired']:+} ms (p25..p75 "
        f"{'..'.join(f'{v:+}' for v in over['ttft_extra_ms_paired_p25_p75'])}), of which plan() "
        f"{search['plan_ms']} ms, {over['ttft_extra_minus_plan_ms']:+} ms left (HTTP, SSE, threads)",
        f"- identical generated text (service vs raw): {report['identical_text_fraction']:.0%}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI of this benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    report = run(args.reps, args.max_tokens)
    print(to_markdown(report))
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
