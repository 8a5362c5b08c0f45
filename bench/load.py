"""Concurrent HTTP load for a bounded time: /v1/search throughput and latency, /v1/chat/completions 200 vs 429."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

from bench.stats import percentile


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for JSON POSTs: a load client has to
    cost far less CPU than the server it loads (httpx spends about a millisecond per request, on the
    same two cores as the service)."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        self._writer.write(head.encode() + payload)
        status_line = await self._reader.readline()
        length = 0
        close = False
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        data = await self._reader.readexactly(length)
        if close:
            await self.close()
        return int(status_line.split()[1]), data

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


async def _search_client(
    base_url: str, queries: Sequence[str], offset: int, deadline: float, out: dict[str, Any]
) -> None:
    url = httpx.URL(base_url)
    conn = _Connection(url.host, url.port or 80)
    i = offset
    try:
        while time.monotonic() < deadline:
            body = {"query": queries[i % len(queries)], "k": 10}
            i += 1
            started = time.perf_counter()
            status: int | str
            try:
                status, _ = await conn.post("/v1/search", body)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
                status = type(e).__name__
                await conn.close()
            out["latencies"].append((time.perf_counter() - started) * 1000)
            out["status"][str(status)] += 1
    finally:
        await conn.close()


def search_load(base_url: str, queries: Sequence[str], clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` concurrent clients, each on its own keep-alive connection, posting /v1/search
    (default mode) back to back for ``seconds``."""

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {"latencies": [], "status": Counter()}
        url = httpx.URL(base_url)
        warm = _Connection(url.host, url.port or 80)
        await warm.post("/v1/search", {"query": queries[0], "k": 10})
        await warm.close()
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(_search_client(base_url, queries, n * 7, deadline, out) for n in range(clients)))
        out["elapsed_s"] = time.monotonic() - started
        return out

    out = asyncio.run(main())
    lat: list[float] = out["latencies"]
    ok = out["status"].get("200", 0)
    return {
        "clients": clients,
        "seconds": round(out["elapsed_s"], 1),
        "requests": len(lat),
        "throughput_rps": round(ok / out["elapsed_s"], 1),
        "p50_ms": round(percentile(lat, 50), 1),
        "p95_ms": round(percentile(lat, 95), 1),
        "max_ms": round(max(lat), 1),
        "errors": len(lat) - ok,
        "status": dict(out["status"]),
    }


async def _chat_client(
    client: httpx.AsyncClient, questions: Sequence[str], offset: int, *, deadline: float, max_tokens: int, out: Any
) -> None:
    i = offset
    while time.monotonic() < deadline:
        messages = [{"role": "user", "content": questions[i % len(questions)]}]
        i += 1
        body = {"model": "synthrag", "messages": messages, "max_tokens": max_tokens, "temperature": 0.0}
        started = time.perf_counter()
        try:
            response = await client.post("/v1/chat/completions", json=body)
            status: str = str(response.status_code)
        except httpx.TimeoutException:
            status, response = "timeout", None
        except httpx.HTTPError as e:
            status, response = type(e).__name__, None
        out["latencies"].append((time.perf_counter() - started) * 1000)
        out["status"][status] += 1
        if response is not None and response.status_code == 200:
            usage = response.json().get("usage") or {}
            out["completion_tokens"].append(int(usage.get("completion_tokens") or 0))
        elif response is not None and response.status_code == 429:
            retry = response.headers.get("Retry-After")
            out["retry_after"]["present" if retry and retry.isdigit() else "missing"] += 1
            # A polite client waits as told, but never past the end of the test.
            wait = min(float(retry) if retry and retry.isdigit() else 1.0, max(deadline - time.monotonic(), 0))
            await asyncio.sleep(wait)


def chat_load(
    base_url: str, questions: Sequence[str], *, clients: int, seconds: float, max_tokens: int, timeout_s: float
) -> dict[str, Any]:
    """``clients`` concurrent non-streamed chat completions for ``seconds`` (requests in flight at the end
    finish, bounded by ``timeout_s``): 200s vs 429s, Retry-After present, timeouts, latency."""

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {
            "latencies": [],
            "status": Counter(),
            "completion_tokens": [],
            "retry_after": Counter(),
        }
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s, limits=limits) as client:
            started = time.monotonic()
            deadline = started + seconds
            await asyncio.gather(
                *(
                    _chat_client(client, questions, n, deadline=deadline, max_tokens=max_tokens, out=out)
                    for n in range(clients)
                )
            )
            out["elapsed_s"] = time.monotonic() - started
        return out

    out = asyncio.run(main())
    lat: list[float] = out["latencies"]
    status: Counter[str] = out["status"]
    tokens: list[int] = out["completion_tokens"]
    ok_429 = status.get("200", 0) + status.get("429", 0)
    return {
        "clients": clients,
        "seconds": round(out["elapsed_s"], 1),
        "max_tokens": max_tokens,
        "timeout_s": timeout_s,
        "requests": len(lat),
        "ok_200": status.get("200", 0),
        "busy_429": status.get("429", 0),
        "retry_after_present": out["retry_after"].get("present", 0),
        "timeouts": status.get("timeout", 0),
        "errors": len(lat) - ok_429,
        "p50_ms": round(percentile(lat, 50), 1) if lat else 0.0,
        "max_ms": round(max(lat), 1) if lat else 0.0,
        "completion_tokens_p50": percentile(tokens, 50) if tokens else 0,
        "status": dict(status),
    }
