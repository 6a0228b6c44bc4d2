"""Chaos: many calls against a primary that fails 30% of the time with mixed faults, and a healthy fallback.

The simulator runs in its own process with a scenario whose primary model fails independently on
each request with one of five faults (a 500, a 503, a 429 with a short Retry-After, a connection
reset, a first token slower than the provider's limit), each at the rate that makes 30% in all.
Calls run from a pool of threads. Two contenders, same scenario, same calls:

- steadyhand's ``Client`` with the alias table: deadline, retry, breaker and a fallback to a
  healthy model (target: >= 99.9% answered);
- the openai SDK calling the primary with its own retries (``max_retries=2``) and the same
  first-byte limit: the side-by-side anchor (it has no fallback).

Reported per contender: success rate, p50/p99 latency, attempts per call, throughput, and the
errors left. Latencies include waiting for the GIL behind the other threads: a contender whose
threads sleep in long backoffs leaves the GIL to fewer threads, which can shorten its healthy calls.
Run: .venv/bin/python benchmarks/bench_chaos.py [--calls 10000] [--threads 16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai

import steadyhand
from _common import report, sim_process

FAULTS = ["500", "503", "429", "reset", "slow-first-token"]
FAILURE_RATE = 0.30
PER_FAULT = 1 - (1 - FAILURE_RATE) ** (1 / len(FAULTS))
"""Each fault's own rate: five independent chances of PER_FAULT fail 30% of requests."""
FIRST_BYTE = 0.5
"""Seconds the providers wait for the first byte (the slow-first-token fault sends it after 2 s)."""
MESSAGES = [{"role": "user", "content": "Say hello to the chaos benchmark."}]

SCENARIO = f"""
seed = 14

[[rules]]
name = "chaos primary"
match = {{ model = "chaos-primary" }}
faults = [
  {{ kind = "500", rate = {PER_FAULT:.6f}, retry_after = 0.05 }},
  {{ kind = "503", rate = {PER_FAULT:.6f}, retry_after = 0.05 }},
  {{ kind = "429", rate = {PER_FAULT:.6f}, retry_after = 0.05 }},
  {{ kind = "reset", rate = {PER_FAULT:.6f} }},
  {{ kind = "slow-first-token", rate = {PER_FAULT:.6f}, delay = 2.0 }},
]
"""


def _steadyhand(base: str) -> tuple[Callable[[], tuple[bool, int, str]], Callable[[], None]]:
    config = steadyhand.Config.model_validate(
        {
            "providers": {"sim": {"kind": "sim", "base_url": base, "timeouts": {"first_token": FIRST_BYTE}}},
            "models": {
                "chaos": {
                    "target": "sim:chaos-primary",
                    "fallbacks": ["sim:sim-basic:backup"],
                    "deadline": 5.0,
                    "retry": {"attempts": 2, "base": 0.01, "cap": 0.1},
                    "breaker": {"failures": 5, "window": 30.0, "cooldown": 1.0},
                }
            },
        }
    )
    client = steadyhand.Client(config)

    def call() -> tuple[bool, int, str]:
        try:
            response = client.chat(MESSAGES, model="chaos")
        except steadyhand.SteadyhandError as error:
            route = getattr(error, "route", None)
            return False, len(route.attempts) if route is not None else 1, type(error).__name__
        return bool(response.text), len(response.route.attempts), "ok"

    return call, client.close


def _openai_sdk(base: str) -> tuple[Callable[[], tuple[bool, int, str]], Callable[[], None]]:
    sent = Counter[int]()
    lock = threading.Lock()

    def count(request: httpx.Request) -> None:
        with lock:
            sent[threading.get_ident()] += 1

    http = httpx.Client(
        timeout=httpx.Timeout(5.0, read=FIRST_BYTE),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        event_hooks={"request": [count]},
    )
    sdk = openai.OpenAI(base_url=f"{base}/v1", api_key="sk-chaos", max_retries=2, http_client=http)

    def call() -> tuple[bool, int, str]:
        me = threading.get_ident()
        before = sent[me]
        try:
            text = (
                sdk.chat.completions.create(model="chaos-primary", messages=MESSAGES)
                .choices[0]
                .message.content
            )  # type: ignore[arg-type]
        except openai.OpenAIError as error:
            return False, sent[me] - before, type(error).__name__
        return bool(text), sent[me] - before, "ok"

    return call, http.close


def run(call: Callable[[], tuple[bool, int, str]], calls: int, threads: int) -> dict[str, Any]:
    def timed(_: int) -> tuple[bool, int, str, float]:
        start = time.perf_counter()
        ok, attempts, outcome = call()
        return ok, attempts, outcome, time.perf_counter() - start

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(timed, range(calls)))
    elapsed = time.perf_counter() - started
    latencies = sorted(r[3] for r in results)
    attempts = [r[1] for r in results]
    return {
        "success": sum(r[0] for r in results) / calls,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "attempts_mean": statistics.fmean(attempts),
        "attempts_max": max(attempts),
        "errors": dict(Counter(r[2] for r in results if not r[0])),
        "seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "chaos.toml"
        scenario.write_text(SCENARIO)
        with sim_process("--scenario", str(scenario)) as base:
            results = {}
            for name, make in (
                ("steadyhand Client (policies)", _steadyhand),
                ("openai SDK (max_retries=2)", _openai_sdk),
            ):
                call, close = make(base)
                for _ in range(20):  # warm up connections and lazy imports
                    call()
                results[name] = run(call, args.calls, args.threads)
                close()
    rows = [
        [
            name,
            f"{r['success'] * 100:.2f}%",
            r["p50_ms"],
            r["p99_ms"],
            r["attempts_mean"],
            r["attempts_max"],
            args.calls / r["seconds"],
            ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())) or "none",
        ]
        for name, r in results.items()
    ]
    ours = results["steadyhand Client (policies)"]
    report(
        "bench_chaos",
        f"{args.calls:,} calls, {args.threads} threads; the primary fails {FAILURE_RATE:.0%} of requests "
        f"({', '.join(FAULTS)}); a healthy fallback (target: steadyhand >= 99.9% answered)",
        ["caller", "answered", "p50 ms", "p99 ms", "attempts/call", "max attempts", "calls/s", "errors left"],
        rows,
        results=results,
        target_met=ours["success"] >= 0.999,
    )


if __name__ == "__main__":
    main()
