"""Client overhead: CPU time per non-streamed call, steadyhand's Client vs a raw httpx call.

The simulator runs in its own process, so only the caller's CPU is counted (time.process_time).
Rounds are interleaved so machine noise hits every contender alike. Target: steadyhand within 1.3x
of raw httpx untraced, 1.2x traced (a Tracer with redaction and the spool on, into a no-op store and
into SQLite; each round ends with ``tracer.flush()`` inside the timing, so the writer thread's CPU is
counted). The same client over httpx (``sync_transport = "httpx"``, the default before steadyhand's own
transport) shows what the transport alone is worth; the openai SDK is measured for reference.
Run: .venv/bin/python benchmarks/bench_client.py [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import openai

import steadyhand
from _common import report, sim_process
from steadyhand.store import open_store
from steadyhand.tracing import SpanRecord, Tracer

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello to the benchmark."},
]
MODEL = "gpt-4o-2024-08-06"


TARGETS = {"steadyhand Client": 1.3, "steadyhand Client, traced (no-op store)": 1.2}
"""CPU vs raw httpx each row must stay within (issue 13: tracing on, at most 1.2x)."""


class NullStore:
    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        return len(spans)


class Traced:
    """A traced Client's call, with the flush that ends each round (the writer's CPU is ours too)."""

    def __init__(self, config: steadyhand.Config, tracer: Tracer) -> None:
        self.client = steadyhand.Client(config, tracer=tracer)
        self.tracer = tracer

    def __call__(self) -> object:
        return self.client.chat(MESSAGES).text

    def flush(self) -> None:
        assert self.tracer.flush(60)


def contenders(base: str, tmp: Path) -> dict[str, Callable[[], object]]:
    raw = httpx.Client()
    body = {"model": MODEL, "messages": MESSAGES}

    def raw_httpx() -> object:
        r = raw.post(f"{base}/v1/chat/completions", json=body)
        r.raise_for_status()
        return json.loads(r.content)["choices"][0]["message"]["content"]

    config = steadyhand.Config.model_validate(
        {"providers": {"sim": {"kind": "sim", "base_url": base}}, "models": {"default": f"sim:{MODEL}"}}
    )
    client = steadyhand.Client(config)
    over_httpx = config.model_copy(update={"sync_transport": "httpx"})
    client_httpx = steadyhand.Client(over_httpx)

    def steadyhand_client() -> object:
        return client.chat(MESSAGES).text

    def steadyhand_client_httpx() -> object:
        return client_httpx.chat(MESSAGES).text

    sdk = openai.OpenAI(base_url=f"{base}/v1", api_key="sk-bench", max_retries=0)

    def openai_sdk() -> object:
        return sdk.chat.completions.create(model=MODEL, messages=MESSAGES).choices[0].message.content  # type: ignore[arg-type]

    null = Tracer(NullStore(), spool_dir=tmp / "spool-null", exit_timeout=None)
    sqlite = Tracer(open_store(f"sqlite:///{tmp}/traces.db"), spool_dir=tmp / "spool-db", exit_timeout=None)
    null_httpx = Tracer(NullStore(), spool_dir=tmp / "spool-null-httpx", exit_timeout=None)
    return {
        "raw httpx.Client": raw_httpx,
        "steadyhand Client": steadyhand_client,
        "steadyhand Client, traced (no-op store)": Traced(config, null),
        "steadyhand Client, traced (SQLite store)": Traced(config, sqlite),
        "steadyhand Client over httpx": steadyhand_client_httpx,
        "steadyhand Client over httpx, traced (no-op store)": Traced(over_httpx, null_httpx),
        "openai SDK": openai_sdk,
    }


def measure(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """(CPU µs per call, wall µs per call)."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    flush = getattr(fn, "flush", None)
    if flush is not None:
        flush()
    return (time.process_time() - cpu0) / calls * 1e6, (time.perf_counter() - wall0) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with sim_process() as base, tempfile.TemporaryDirectory() as tmp:
        fns = contenders(base, Path(tmp))
        for fn in fns.values():  # warm up connections and caches
            for _ in range(50):
                fn()
        cpu: dict[str, list[float]] = {k: [] for k in fns}
        wall: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(args.rounds):
            for name, fn in fns.items():
                c, w = measure(fn, args.calls)
                cpu[name].append(c)
                wall[name].append(w)
    raw_cpu = statistics.median(cpu["raw httpx.Client"])
    rows = [
        [
            name,
            statistics.median(cpu[name]),
            statistics.median(wall[name]),
            statistics.median(cpu[name]) / raw_cpu,
        ]
        for name in fns
    ]
    ratio, traced, traced_db, traced_httpx = rows[1][3], rows[2][3], rows[3][3], rows[5][3]
    for row in rows:
        target = TARGETS.get(row[0])
        row.append("" if target is None else f"<= {target}x: {'met' if row[3] <= target else 'NOT met'}")
    report(
        "bench_client",
        f"CPU per non-streamed call, median of {args.rounds} rounds x {args.calls} calls"
        " (target: <= 1.3x raw httpx; traced <= 1.2x)",
        ["caller", "CPU µs/call", "wall µs/call", "CPU vs raw httpx", "target"],
        rows,
        steadyhand_vs_raw=ratio,
        target_met=ratio <= 1.3,
        traced_vs_raw=traced,
        traced_sqlite_vs_raw=traced_db,
        traced_target_met=traced <= 1.2,
        traced_over_httpx_vs_raw=traced_httpx,
    )
    print(
        f"\ntraced (no-op store) vs raw httpx: {traced:.2f}x (target <= 1.2x: "
        f"{'met' if traced <= 1.2 else 'NOT met'}); untraced {ratio:.2f}x (target <= 1.3x: "
        f"{'met' if ratio <= 1.3 else 'NOT met'}); traced into SQLite {traced_db:.2f}x; traced over httpx"
        f" {traced_httpx:.2f}x"
    )


if __name__ == "__main__":
    main()
