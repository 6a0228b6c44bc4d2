"""Async throughput under concurrency: `AsyncClient` (default transport: steadyhand's httptools one) vs raw
`httpx.AsyncClient`, raw `aiohttp`, the `openai` SDK, `AsyncClient` with policies and tracing on, and
`AsyncClient` over aiohttp and over httpx, at 1, 8, 32 and 64 concurrent calls.

The upstream is nginx answering a fixed chat completion (benchmarks/_upstream.py) on its own core, so it is
never the bottleneck; the callers run in this process pinned to the other core, so calls/s is what one
core of caller gets. CPU per call is this process's CPU time over the calls. Contenders take turns within
each round, so machine noise hits them alike; a contender's figure is its best round. Target (issue 15):
`AsyncClient` at 64 concurrent calls >= 5x raw `httpx.AsyncClient`, same run. The load average is
recorded with every figure: the machine is shared.
Run: .venv/bin/python benchmarks/bench_async_concurrency.py [--calls 2000] [--rounds 3] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import openai

import steadyhand
from _common import concurrent_calls, report
from _upstream import MODEL, nginx_upstream
from steadyhand.tracing import SpanRecord, Tracer

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello to the benchmark."},
]
CONCURRENCY = (1, 8, 32, 64)
Call = Callable[[], Awaitable[str]]


class NullStore:
    """Spans go nowhere: the tracer's own work (redaction, spool, writer) is what is measured."""

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        return len(spans)


def _cores() -> tuple[set[int], set[int]]:
    """(this process's core, the upstream's core): split when there are two or more."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return set(cores), set(cores)
    return {cores[0]}, {cores[1]}


class Contenders:
    """Each contender's call and what to close; built inside the running loop (aiohttp binds to it)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.body = {"model": MODEL, "messages": MESSAGES}
        self.payload = json.dumps(self.body).encode()
        self.url = f"{base}/chat/completions"
        self.closers: list[Callable[[], Awaitable[Any]]] = []

    def _steadyhand(self, transport: str, *, harnessed: bool = False) -> Call:
        """An AsyncClient call; ``harnessed``: with retry and breaker policies and a tracer (its writer
        thread's CPU is counted: each run ends with a flush inside the timing)."""
        alias: Any = f"up:{MODEL}"
        tracer = None
        if harnessed:
            alias = {"target": alias, "retry": {"attempts": 2}, "breaker": {"failures": 50}}
            tracer = Tracer(NullStore(), spool_dir=Path(tempfile.mkdtemp()) / "spool", exit_timeout=None)
        config = steadyhand.Config.model_validate(
            {
                "providers": {"up": {"kind": "openai_compatible", "base_url": self.base}},
                "models": {"default": alias},
                "async_transport": transport,
            }
        )
        client = steadyhand.AsyncClient(config, tracer=tracer)
        self.closers.append(client.aclose)

        async def call() -> str:
            return (await client.chat(MESSAGES)).text

        if tracer is not None:
            call.flush = lambda: tracer.flush(60)  # type: ignore[attr-defined]
        return call

    def build(self) -> dict[str, Call]:
        raw_httpx = httpx.AsyncClient(limits=httpx.Limits(max_connections=100, max_keepalive_connections=100))
        self.closers.append(raw_httpx.aclose)

        async def httpx_call() -> str:
            r = await raw_httpx.post(
                self.url, content=self.payload, headers={"content-type": "application/json"}
            )
            r.raise_for_status()
            return str(json.loads(r.content)["choices"][0]["message"]["content"])

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        self.closers.append(session.close)

        async def aiohttp_call() -> str:
            async with session.post(
                self.url, data=self.payload, headers={"content-type": "application/json"}
            ) as r:
                r.raise_for_status()
                return str(json.loads(await r.read())["choices"][0]["message"]["content"])

        sdk = openai.AsyncOpenAI(base_url=self.base, api_key="sk-bench", max_retries=0)
        self.closers.append(sdk.close)

        async def sdk_call() -> str:
            answer = await sdk.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
            return str(answer.choices[0].message.content)

        return {
            "AsyncClient (default: httptools)": self._steadyhand("httptools"),
            "AsyncClient + retry, breaker, tracer": self._steadyhand("httptools", harnessed=True),
            "raw httpx.AsyncClient": httpx_call,
            "raw aiohttp": aiohttp_call,
            "openai SDK (AsyncOpenAI)": sdk_call,
            "AsyncClient over aiohttp": self._steadyhand("aiohttp"),
            "AsyncClient over httpx": self._steadyhand("httpx"),
        }

    async def aclose(self) -> None:
        for close in self.closers:
            await close()


async def bench(
    base: str, calls: int, rounds: int
) -> dict[tuple[str, int], list[tuple[float, float, float]]]:
    contenders = Contenders(base)
    table = contenders.build()
    results: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    try:
        for name, call in table.items():  # warm up: connections, imports, caches
            assert await call(), name
            await concurrent_calls(call, 8, 50)
        for r in range(rounds):
            for concurrency in CONCURRENCY:
                n = max(calls // 4, 100) if concurrency == 1 else calls
                for name, call in table.items():
                    rate, cpu_ms = await concurrent_calls(call, concurrency, n)
                    load = os.getloadavg()[0]
                    results.setdefault((name, concurrency), []).append((rate, cpu_ms, load))
            print(f"round {r + 1}/{rounds} done (load {os.getloadavg()[0]:.2f})", flush=True)
    finally:
        await contenders.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per contender per level per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uvloop", action="store_true", help="run the callers on uvloop")
    args = parser.parse_args()
    mine, upstream_cores = _cores()
    os.sched_setaffinity(0, mine)
    with nginx_upstream(cpus=upstream_cores, workers=1) as up:
        runner: Any = asyncio.run
        if args.uvloop:
            import uvloop

            runner = uvloop.run
        nginx_cpu = up.cpu_seconds()
        results = runner(bench(up.base_url, args.calls, args.rounds))
        nginx_cpu = up.cpu_seconds() - nginx_cpu
    names = list(dict.fromkeys(name for name, _ in results))
    best = {key: max(runs) for key, runs in results.items()}
    rows = []
    for concurrency in CONCURRENCY:
        base_rate, base_cpu, _ = best[("raw httpx.AsyncClient", concurrency)]
        for name in names:
            rate, cpu_ms, load = best[(name, concurrency)]
            rows.append([concurrency, name, round(rate), rate / base_rate, cpu_ms, base_cpu / cpu_ms, load])
    ours, httpx64 = best[("AsyncClient (default: httptools)", 64)], best[("raw httpx.AsyncClient", 64)]
    ratio, cpu_ratio = ours[0] / httpx64[0], httpx64[1] / ours[1]
    report(
        "bench_async_concurrency",
        f"Async calls/s on one core vs concurrency, nginx upstream on another "
        f"({'uvloop' if args.uvloop else 'asyncio'} loop; best of {args.rounds} rounds)",
        [
            "concurrent",
            "contender",
            "calls/s",
            "x raw httpx",
            "CPU ms/call",
            "raw httpx CPU / this",
            "load avg",
        ],
        rows,
        target={
            "AsyncClient at 64 / raw httpx.AsyncClient at 64 (calls/s)": ratio,
            "raw httpx.AsyncClient CPU per call / AsyncClient's at 64": cpu_ratio,
            "required": 5.0,
        },
        loop="uvloop" if args.uvloop else "asyncio",
        cores={"callers": sorted(mine), "upstream": sorted(upstream_cores)},
        upstream_cpu_s=nginx_cpu,
        all_rounds={f"{n} @ {c}": runs for (n, c), runs in results.items()},
    )
    verdict = "meets" if ratio >= 5.0 else "MISSES"
    print(
        f"AsyncClient at 64 concurrent calls: {ratio:.1f}x the calls/s of raw httpx.AsyncClient "
        f"({verdict} the 5x target), {cpu_ratio:.1f}x less CPU per call"
    )


if __name__ == "__main__":
    main()
