"""Policy overhead: CPU per non-streamed call with every policy on and no faults, vs the bare client.

Contenders, interleaved round by round against one simulator in its own process (so only the
caller's CPU is counted, ``time.process_time``, every thread of this process included):

- raw ``httpx.Client`` posting the same body (the floor);
- the bare ``Client`` (an alias without a policy table);
- the ``Client`` with every policy of the alias table on: deadline, retry, breaker, a rate limit
  with ample budget, a fallback, the exact cache and a degraded answer. Every call asks something
  new, so every call is a cache miss that is stored: the cache's full cost (key, lookup, write),
  never a free hit. Measured with the cache in memory and in its default SQLite file;
- the same client answering from its cache (every call a hit), for reference.

Targets: every policy (cache in memory) <= 1.1x the bare client's CPU; the bare client <= 1.2x raw
httpx. Rounds are short and many (400 calls x 15 by default) so drift on a shared machine hits every
contender alike; each ratio is the median of the per-round ratios (both sides measured in the same
round). The machine's load still moves CPU time, so ``--instructions N`` (default 100; 0 skips it)
also counts the instructions of N calls of the contenders the targets compare, each in a child
process under ``valgrind --tool=callgrind`` (the simulator outside it): a figure load does not move.
The two figures weigh different things: CPU counts the kernel's share of each round trip (the same
for every contender) and the policy code's cold CPU caches (every call blocks on its round trip, other
processes run meanwhile, and a few dozen Python functions, orjson, blake2b and the stores' tables then
run cold), which callgrind does not charge; a memory that grows per call costs page faults, hence the
faults column.
Run: .venv/bin/python benchmarks/bench_policies.py [--calls 400] [--rounds 15] [--instructions 100]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

import steadyhand
from _common import report, sim_process

MODEL = "sim-basic"
POLICIES: dict[str, Any] = {
    "fallbacks": ["sim:sim-basic:backup"],
    "deadline": 8.0,
    "retry": {"attempts": 3, "base": 0.25, "cap": 8.0},
    "breaker": {"failures": 5, "window": 30.0, "cooldown": 15.0},
    "rate_limit": {"rpm": 10_000_000, "tpm": 1_000_000_000},  # on, with room for every call
    "cache": {"ttl": 3600},
    "degraded": "Our assistant is busy right now; please try again in a minute.",
}
RAW, BARE = "raw httpx.Client", "bare Client"
POLICY_MEMORY = "every policy, cache in memory (all misses)"
POLICY_SQLITE = "every policy, cache in SQLite (all misses)"
COUNTED = (RAW, BARE, POLICY_MEMORY)
"""The contenders whose instructions are counted: the two targets compare them."""
POLICY_TARGET, CLIENT_TARGET = 1.1, 1.2
_COLLECTED = re.compile(r"Collected : (\d+)")


def _messages(n: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": f"Question {n}?"}]


class Contenders:
    """Builds each contender on demand, so a callgrind child builds (and imports) only its own."""

    def __init__(self, base: str, tmp: Path) -> None:
        self.base, self.tmp = base, tmp
        self.counter = itertools.count()
        self.factories: dict[str, Callable[[], Callable[[], object]]] = {
            RAW: self.raw_httpx,
            BARE: lambda: self.chat(self.client(None), "default"),
            "bare Client, timeout=8 (a deadline, no policy)": self.bare_with_deadline,
            POLICY_MEMORY: lambda: self.chat(self.client("memory://"), "guarded"),
            POLICY_SQLITE: lambda: self.chat(self.client(f"sqlite:///{self.tmp / 'cache.db'}"), "guarded"),
            "every policy, answered from the cache": self.cache_hits,
        }

    def client(self, cache_url: str | None) -> steadyhand.Client:
        config = steadyhand.Config.model_validate(
            {
                "providers": {"sim": {"kind": "sim", "base_url": self.base}},
                "models": {"default": f"sim:{MODEL}", "guarded": {"target": f"sim:{MODEL}", **POLICIES}},
                "cache_url": cache_url,
            }
        )
        return steadyhand.Client(config)

    def chat(self, client: steadyhand.Client, model: str) -> Callable[[], object]:
        def call() -> object:
            return client.chat(_messages(next(self.counter)), model=model).text

        return call

    def raw_httpx(self) -> Callable[[], object]:
        raw = httpx.Client()

        def call() -> object:
            body = {"model": MODEL, "messages": _messages(next(self.counter))}
            r = raw.post(f"{self.base}/v1/chat/completions", json=body)
            r.raise_for_status()
            return json.loads(r.content)["choices"][0]["message"]["content"]

        return call

    def bare_with_deadline(self) -> Callable[[], object]:
        client = self.client(None)

        def call() -> object:
            return client.chat(_messages(next(self.counter)), timeout=8.0).text

        return call

    def cache_hits(self) -> Callable[[], object]:
        client = self.client("memory://")
        client.chat(_messages(-1), model="guarded")

        def call() -> object:
            return client.chat(_messages(-1), model="guarded").text

        return call


def measure(fn: Callable[[], object], calls: int) -> tuple[float, float, float]:
    """(CPU µs per call, wall µs per call, minor page faults per call)."""
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    cpu, wall = (time.process_time() - cpu0) / calls * 1e6, (time.perf_counter() - wall0) / calls * 1e6
    return cpu, wall, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / calls


def child(base: str, name: str, calls: int) -> None:
    """What runs under callgrind: warm up, then ``calls`` calls of one contender."""
    with tempfile.TemporaryDirectory() as tmp:
        fn = Contenders(base, Path(tmp)).factories[name]()
        for _ in range(20):
            fn()
        for _ in range(calls):
            fn()


def instructions(base: str, name: str, calls: int) -> float:
    """Instructions per call of ``name``: a run of ``calls`` calls minus a run of none, over ``calls``."""

    def counted(n: int) -> int:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
             "--child", name, "--base", base, "--calls", str(n)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        found = _COLLECTED.search(done.stderr)
        if found is None:
            raise RuntimeError(f"no instruction count in valgrind's output: {done.stderr[-500:]}")
        return int(found.group(1))

    return (counted(calls) - counted(0)) / calls


def _verdict(ratio: float, target: float) -> str:
    return f"{ratio:.3f}x (target <= {target}x: {'met' if ratio <= target else 'NOT met'})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--instructions", type=int, default=100, help="calls counted by callgrind; 0 skips")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.base, args.child, args.calls)
        return
    if args.instructions and shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind): no instruction counts this run")
        args.instructions = 0
    with sim_process() as base, tempfile.TemporaryDirectory() as tmp:
        built = Contenders(base, Path(tmp))
        fns = {name: make() for name, make in built.factories.items()}
        for fn in fns.values():  # warm up connections, caches and lazy imports
            for _ in range(50):
                fn()
        cpu: dict[str, list[float]] = {k: [] for k in fns}
        wall: dict[str, list[float]] = {k: [] for k in fns}
        faults: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(args.rounds):
            for name, fn in fns.items():
                c, w, f = measure(fn, args.calls)
                cpu[name].append(c)
                wall[name].append(w)
                faults[name].append(f)
        counts = (
            {name: instructions(base, name, args.instructions) for name in COUNTED}
            if args.instructions
            else {}
        )

    def ratio(name: str, over: str) -> float:
        """The median of the per-round ratios: both sides measured in the same round."""
        return statistics.median(a / b for a, b in zip(cpu[name], cpu[over], strict=True))

    rows = [
        [
            name,
            statistics.median(cpu[name]),
            statistics.median(wall[name]),
            ratio(name, BARE),
            ratio(name, RAW),
            statistics.median(faults[name]),
        ]
        for name in fns
    ]
    memory, sqlite, client = ratio(POLICY_MEMORY, BARE), ratio(POLICY_SQLITE, BARE), ratio(BARE, RAW)
    targets = [
        ["every policy (memory cache) vs bare Client, CPU", _verdict(memory, POLICY_TARGET)],
        ["every policy (SQLite cache) vs bare Client, CPU", _verdict(sqlite, POLICY_TARGET)],
        ["bare Client vs raw httpx, CPU", _verdict(client, CLIENT_TARGET)],
    ]
    if counts:
        targets += [
            ["every policy (memory cache) vs bare Client, instructions",
             _verdict(counts[POLICY_MEMORY] / counts[BARE], POLICY_TARGET)],
            ["bare Client vs raw httpx, instructions", _verdict(counts[BARE] / counts[RAW], CLIENT_TARGET)],
        ]  # fmt: skip
    report(
        "bench_policies",
        f"CPU per non-streamed call, median of {args.rounds} rounds x {args.calls} calls; ratios are "
        "medians of per-round ratios",
        ["caller", "CPU µs/call", "wall µs/call", "CPU vs bare Client", "CPU vs raw httpx", "faults/call"],
        rows,
        policies_memory_vs_bare=memory,
        policies_sqlite_vs_bare=sqlite,
        client_vs_raw=client,
        policies_target_met=memory <= POLICY_TARGET,
        policies_sqlite_target_met=sqlite <= POLICY_TARGET,
        client_target_met=client <= CLIENT_TARGET,
        instructions_per_call=counts,
    )
    if counts:
        print(f"\nInstructions per call (callgrind, {args.instructions} calls after 20 warm-up calls)")
        for name in COUNTED:
            print(f"  {name:<45} {counts[name]:>12,.0f}")
    print("\nTargets")
    for what, verdict in targets:
        print(f"  {what:<58} {verdict}")


if __name__ == "__main__":
    main()
