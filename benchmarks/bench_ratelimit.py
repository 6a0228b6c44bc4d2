"""Rate-limit overhead: CPU per call of an alias with a rate limit vs the same alias without one.

The model is an in-process function (no HTTP), so the figures are the policies' own cost: the
resilient policy alone (a deadline), plus a rate limit kept in memory, plus the same limit kept in a
real redis-server (a throwaway one, tests/services.py; one Lua script to admit and one to settle per
call). Rounds are interleaved so machine noise hits every contender alike; ratios are side by side.
Run: .venv/bin/python benchmarks/bench_ratelimit.py [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _common import report
from services import RedisServer
from steadyhand import Client, Config, ModelAlias, ModelRequest, ProviderConfig
from steadyhand.testing import FunctionProvider, text_response
from steadyhand.types import ModelResponse, Usage

LIMIT = {"rpm": 10_000_000, "tpm": 10_000_000_000}  # never full: the cost of checking, not of waiting


def _answer(request: ModelRequest) -> ModelResponse:
    return text_response("hello", model=request.model, usage=Usage(input_tokens=12, output_tokens=3))


def _client(state_url: str | None, **alias: object) -> Client:
    config = Config(
        state_url=state_url,
        providers={"sim": ProviderConfig(kind="sim")},
        models={"bench": ModelAlias(target="fn:model-1", **alias)},  # type: ignore[arg-type]
    )
    return Client(config, providers={"fn": FunctionProvider(_answer, name="fn")})


def _per_call(call: Callable[[], object], calls: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        call()
    return (time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with RedisServer() as redis:
        contenders = {
            "no policy": _client(None),
            "deadline only": _client(None, deadline=30.0),
            "rate limit, memory": _client(None, deadline=30.0, rate_limit=LIMIT),
            "rate limit, redis": _client(redis.url, deadline=30.0, rate_limit=LIMIT),
        }
        calls = {
            name: (lambda c=client: c.chat("hi", model="bench", max_tokens=8))
            for name, client in contenders.items()
        }
        for call in calls.values():
            _per_call(call, 50)  # warm up: imports, the stack, Redis's scripts
        cpu: dict[str, list[float]] = {name: [] for name in calls}
        wall: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(args.rounds):
            for name, call in calls.items():
                c, w = _per_call(call, args.calls)
                cpu[name].append(c)
                wall[name].append(w)
        for client in contenders.values():
            client.close()
    base = statistics.median(cpu["deadline only"])
    rows = [
        [name, round(statistics.median(cpu[name]), 1), round(statistics.median(wall[name]), 1),
         round(statistics.median(cpu[name]) / base, 2)]
        for name in calls
    ]  # fmt: skip
    report(
        "bench_ratelimit",
        f"Rate-limit overhead per call ({args.calls} calls x {args.rounds} rounds, medians)",
        ["contender", "CPU us/call", "wall us/call", "CPU vs deadline only"],
        rows,
        calls=args.calls,
        rounds=args.rounds,
    )


if __name__ == "__main__":
    main()
