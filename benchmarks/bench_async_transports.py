"""The async transports alone, side by side: CPU per call and calls/s of steadyhand's own httptools
transport (the default), aiohttp and httpx, each moving the same request through the `AsyncTransport`
interface to nginx (a fixed chat completion, and a 200-token SSE stream read to its end), at 1 and 64
concurrent calls.

nginx runs on its own core and this process on the other, so CPU per call is this process's CPU time over
the calls. Contenders take turns within each round (machine noise hits them alike); a figure is the
median of the rounds. For instruction counts, run one contender under callgrind at two call counts and
divide the difference (repeatable under load):

  valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p .venv/bin/python \
      benchmarks/bench_async_transports.py --only httptools --calls 200 --rounds 1 --no-stream

Run: .venv/bin/python benchmarks/bench_async_transports.py [--calls 2000] [--rounds 5] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

from _common import concurrent_calls, report
from _upstream import MODEL, nginx_upstream
from steadyhand import Timeouts
from steadyhand.providers import AsyncTransport, HTTPRequest
from steadyhand.providers.http_provider import default_async_transport

KINDS = ("httptools", "aiohttp", "httpx")
CONCURRENCY = (1, 64)
Call = Callable[[], Awaitable[int]]


def _cores() -> tuple[set[int], set[int]]:
    cores = sorted(os.sched_getaffinity(0))
    return ({cores[0]}, {cores[1]}) if len(cores) > 1 else (set(cores), set(cores))


def _calls(transport: AsyncTransport, json_url: str, sse_url: str) -> dict[str, Call]:
    headers = {"content-type": "application/json", "authorization": "Bearer sk-bench"}
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode()
    plain = HTTPRequest("POST", json_url, headers, body)
    streamed = HTTPRequest("POST", sse_url, headers, body)
    timeouts = Timeouts()

    async def send() -> int:
        return len((await transport.send(plain, timeouts=timeouts)).body)

    async def stream() -> int:
        async with transport.stream(streamed, timeouts=timeouts) as response:
            return sum([len(data) async for data in response.chunks])

    return {"send": send, "stream": stream}


async def bench(
    args: argparse.Namespace, json_url: str, sse_url: str
) -> dict[tuple[str, str, int], list[Any]]:
    transports = {kind: default_async_transport(kind) for kind in args.only}
    table = {kind: _calls(t, json_url, sse_url) for kind, t in transports.items()}
    modes = ["send"] if args.no_stream else ["send", "stream"]
    results: dict[tuple[str, str, int], list[Any]] = {}
    try:
        for calls in table.values():  # warm up: connections, imports
            for mode in modes:
                assert await calls[mode]()
                await concurrent_calls(calls[mode], 8, 50)
        for _ in range(args.rounds):
            for mode in modes:
                for concurrency in CONCURRENCY:
                    for kind, calls in table.items():
                        n = args.calls // 4 if concurrency == 1 else args.calls
                        if mode == "stream":
                            n //= 4
                        rate, cpu_ms = await concurrent_calls(calls[mode], concurrency, max(n, 20))
                        results.setdefault((mode, kind, concurrency), []).append((rate, cpu_ms))
    finally:
        for t in transports.values():
            await t.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="non-streamed calls per contender per level")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--no-stream", action="store_true", help="non-streamed calls only")
    args = parser.parse_args()
    mine, theirs = _cores()
    os.sched_setaffinity(0, mine)
    with nginx_upstream(cpus=theirs, workers=1) as up:
        json_url = f"{up.base_url}/chat/completions"
        results = asyncio.run(bench(args, json_url, f"{up.sse_base_url}/chat/completions"))
    rows = []
    for (mode, kind, concurrency), runs in results.items():
        rate, cpu_ms = statistics.median(r for r, _ in runs), statistics.median(c for _, c in runs)
        base = results.get((mode, "aiohttp", concurrency))
        ratio = statistics.median(c for _, c in base) / cpu_ms if base else float("nan")
        rows.append([mode, concurrency, kind, round(rate), cpu_ms, ratio])
    report(
        "bench_async_transports",
        f"Async transports alone against nginx, this process on one core (median of {args.rounds} rounds)",
        ["call", "concurrent", "transport", "calls/s", "CPU ms/call", "aiohttp CPU / this"],
        rows,
        load=os.getloadavg()[0],
        all_rounds={f"{m} {k} @ {c}": runs for (m, k, c), runs in results.items()},
    )


if __name__ == "__main__":
    main()
