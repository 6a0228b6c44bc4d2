"""Tracer benchmark: the hot-path cost of record() for one realistic LLM span, and the writer's memory
with the store down under steady traffic.

Run: ``.venv/bin/python benchmarks/bench_tracer.py [--calls 20000] [--paced-seconds 4] [--seconds 60]``.
Prints a table and writes ``benchmarks/results/bench_tracer.json``. Each ``record()`` is timed with
``perf_counter_ns`` (spool on, on a real file system), redaction on and off, in three loads measured in
one run: back to back (the worst case: the writer competes for the GIL all the time), and paced at
1,000 and 5,000 calls/s with the writer storing into a real SQLite store; each with the writer as a
thread (the default) and as a subprocess (``writer="process"``). The garbage collector is off while
timing, so the figures are the tracer's and not the collector's.

The ``client span`` rows time the spans the Client really produces (recorded through the simulator by
``record_client_spans.py``: a real response ``id``, ``created``, usage details), next to ``json.dumps``
of the same span; ``--only-client`` runs just those (``bench_tracer_client.json``).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report
from record_client_spans import load_spans
from steadyhand.errors import StoreError
from steadyhand.store import open_store
from steadyhand.tracing import SpanRecord, Tracer
from steadyhand.tracing._serialize import span_to_dict

SYSTEM = "You are the support assistant for ACME. Answer briefly, cite the policy, never promise refunds. "
TARGET_P99_US = 50.0
WARMUP = 500


class NullStore:
    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        return len(spans)


class DownStore:
    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        raise StoreError("store is down (benchmark)")


def llm_span(i: int) -> SpanRecord:
    """What the Client records for a small chat call: 3 messages, params, answer, usage, tags."""
    now = time.time()
    return SpanRecord(
        name="chat gpt-4o-mini",
        kind="llm",
        parent_id="a1b2c3d4e5f60718",
        start_time=now - 0.8,
        end_time=now,
        first_token_time=now - 0.6,
        tags={"user": f"user-{i % 100}", "feature": "support-chat", "env": "prod"},
        model_alias="fast",
        provider="openai",
        model="gpt-4o-mini-2024-07-18",
        response_model="gpt-4o-mini-2024-07-18",
        prompt_version="support@3f2a9c1",
        request={
            "model": "gpt-4o-mini-2024-07-18",
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Hi, my order {i} arrived broken. What can I do about it?"},
                {"role": "assistant", "content": "Sorry to hear that. Could you share a photo of it?"},
            ],
            "temperature": 0.2,
            "max_tokens": 300,
        },
        response={"text": "Thanks. I have opened a replacement request; you will get an e-mail shortly."},
        finish_reason="stop",
        input_tokens=182,
        output_tokens=24,
        cached_input_tokens=0,
        usage_raw={"prompt_tokens": 182, "completion_tokens": 24, "total_tokens": 206},
    )


_CLIENT_SPANS = load_spans()
CLIENT_SPANS = ("chat_app", "chat_bare", "chat_tools", "anthropic_messages", "chat_error")
"""Spans the Client really produced (``tests/tracing/fixtures/client_spans.json``, recorded through the
simulator by ``record_client_spans.py``): the response ``id``, ``created``, usage details and all."""


def client_span(name: str) -> Callable[[int], SpanRecord]:
    """Fresh copies of one recorded span (``record()`` takes ownership and redacts in place), each with
    the text a new call brings: its own last message, answer, response id and error message (the
    redactor remembers text it found clean; what repeats, as in an app, is the rest)."""
    base = _CLIENT_SPANS[name]

    def make(i: int) -> SpanRecord:
        span = copy.deepcopy(base)
        span.span_id = f"{i:016x}"
        messages = (span.request or {}).get("messages")
        if messages and isinstance(messages[-1].get("content"), str):
            messages[-1]["content"] += f" (call {i})"
        if span.response is not None:
            span.response["id"] = f"{span.response.get('id', 'resp')}-{i}"
            for choice in span.response.get("choices", ()):
                choice["message"]["content"] = f"{choice['message']['content']} (answer {i})"
        if span.error_message is not None:
            span.error_message += f" (call {i})"
        return span

    return make


def _stats(samples: list[int]) -> dict[str, float]:
    samples.sort()
    n = len(samples)

    def q(p: float) -> float:
        return samples[min(int(n * p), n - 1)] / 1000

    return {
        "n": n,
        "p50_us": q(0.5),
        "p90_us": q(0.9),
        "p99_us": q(0.99),
        "p99_9_us": q(0.999),
        "max_us": samples[-1] / 1000,
        "mean_us": sum(samples) / n / 1000,
    }


def timed_records(tracer: Any, spans: list[SpanRecord], rate: float | None) -> list[int]:
    """Time each record(); ``rate``: calls per second on a fixed schedule (sleeping in between, as an
    app waiting on I/O would), ``None``: back to back."""
    samples = []
    interval = 0.0 if rate is None else 1.0 / rate
    clock = time.perf_counter
    next_at = clock()
    for s in spans:
        if rate is not None:
            next_at += interval
            delay = next_at - clock()
            if delay > 0:
                time.sleep(delay)
        t0 = time.perf_counter_ns()
        tracer.record(s)
        samples.append(time.perf_counter_ns() - t0)
    return samples


def hot_path(
    *,
    calls: int,
    rate: float | None,
    redact: bool,
    sqlite: bool,
    idle: bool,
    process: bool = False,
    make: Callable[[int], SpanRecord] = llm_span,
) -> dict[str, float]:
    """``idle``: the writer stores nothing while calls are timed (everything waits for close());
    ``process``: the writer is a subprocess tailing the spool into the SQLite store."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/traces.db"
        store: Any = url if process else open_store(url) if sqlite else NullStore()
        hold: dict[str, Any] = {"batch_size": 10**9, "flush_interval": 3600.0} if idle else {}
        if process:
            hold["writer"] = "process"
        tracer = Tracer(store, spool_dir=Path(tmp) / "spool", redact=redact, exit_timeout=None, **hold)
        spans = [make(i) for i in range(calls + WARMUP)]
        for s in spans[:WARMUP]:  # warm up (regex caches, price lookups, page cache, the store's SQL)
            tracer.record(s)
        assert tracer.flush(30)
        gc.collect()
        gc.disable()
        try:
            samples = timed_records(tracer, spans[WARMUP:], rate)
        finally:
            gc.enable()
        assert tracer.close(timeout=60), "the writer did not catch up within 60 s"
        stats = tracer.stats()
        assert stats.dropped == 0 and stats.written == calls + WARMUP, stats
        if sqlite and not process:
            store.close()
    return _stats(samples)


def process_startup(runs: int = 5) -> dict[str, float]:
    """Milliseconds for ``Tracer(url, writer="process")`` to return (spawning the child), and until a
    first span is in the store (the child's interpreter start, the store import, one write)."""
    ctor, first = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            url, spool = f"sqlite:///{tmp}/traces.db", Path(tmp) / "spool"
            tracer = Tracer(url, writer="process", spool_dir=spool, exit_timeout=None)
            ctor.append((time.perf_counter() - t0) * 1e3)
            tracer.record(llm_span(0))
            assert tracer.flush(30)
            first.append((time.perf_counter() - t0) * 1e3)
            assert tracer.close(30)
    return {"constructor_ms": sorted(ctor)[runs // 2], "first_span_stored_ms": sorted(first)[runs // 2]}


class JsonOnly:
    """The reference: no tracer, just ``json.dumps`` of the span (about a third of record()'s work), on
    the same schedule. What this row shows beyond its back-to-back figures is the machine's jitter."""

    def record(self, span: SpanRecord) -> None:
        json.dumps(span_to_dict(span))


def reference(
    *, calls: int, rate: float | None, make: Callable[[int], SpanRecord] = llm_span
) -> dict[str, float]:
    spans = [make(i) for i in range(calls + WARMUP)]
    timed_records(JsonOnly(), spans[:WARMUP], None)
    gc.collect()
    gc.disable()
    try:
        return _stats(timed_records(JsonOnly(), spans[WARMUP:], rate))
    finally:
        gc.enable()


def store_down_memory(seconds: float, rate: int) -> dict[str, float]:
    """Peak memory while the store is down and the app records ``rate`` LLM spans per second."""
    with tempfile.TemporaryDirectory() as tmp:
        gc.collect()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        tracer = Tracer(DownStore(), spool_dir=Path(tmp) / "spool", exit_timeout=None)
        start = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * rate)
            while sent < due:
                tracer.record(llm_span(sent))
                sent += 1
            time.sleep(0.005)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        stats = tracer.stats()
        spool_mb = sum(p.stat().st_size for p in Path(tmp).rglob("*.jsonl")) / 1e6
        tracer.close(timeout=0.1)
    return {
        "seconds": seconds,
        "calls": sent,
        "queued_in_memory": stats.queued,
        "spooled": stats.spooled,
        "dropped": stats.dropped,
        "traced_peak_mb": (peak - base) / 1e6,
        "rss_peak_growth_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before,
        "spool_mb": spool_mb,
    }


LOADS: list[tuple[str, float | None, bool, bool, bool]] = [
    ("back to back, no-op store", None, False, False, False),
    ("back to back, SQLite store", None, True, False, False),
    ("back to back, SQLite store, process writer", None, True, False, True),
    ("1,000/s, SQLite store", 1000.0, True, False, False),
    ("1,000/s, SQLite store, process writer", 1000.0, True, False, True),
    ("1,000/s, writer idle", 1000.0, False, True, False),
    ("5,000/s, SQLite store", 5000.0, True, False, False),
    ("5,000/s, SQLite store, process writer", 5000.0, True, False, True),
]
"""(label, calls per second or back to back, SQLite or no-op store, writer idle while timing, writer
in a subprocess)."""


CLIENT_LOADS: list[tuple[str, float | None, bool, bool]] = [
    ("back to back, no-op store", None, False, False),
    ("back to back, SQLite store, process writer", None, True, True),
    ("1,000/s, SQLite store", 1000.0, True, False),
]
"""(label, calls per second or back to back, SQLite or no-op store, process writer) for the spans the
client really produces."""


def client_rows(args: argparse.Namespace, add: Callable[[str, dict[str, float]], None]) -> None:
    """record() of the recorded client spans, redaction on and off, next to json.dumps of the same span."""
    for span in ("chat_app", *(() if args.quick_client else CLIENT_SPANS[1:])):
        make = client_span(span)
        for load, rate, sqlite, process in CLIENT_LOADS if span == "chat_app" else CLIENT_LOADS[:1]:
            calls = args.calls if rate is None else int(rate * args.paced_seconds)
            for redact in (True, False):
                r = hot_path(
                    calls=calls,
                    rate=rate,
                    redact=redact,
                    sqlite=sqlite,
                    idle=False,
                    process=process,
                    make=make,
                )
                add(f"client span {span}: {load}, redaction {'on' if redact else 'off'}", r)
            if rate is None and not sqlite:
                add(f"client span {span}: reference json.dumps(span) alone, {load}", reference(
                    calls=calls, rate=rate, make=make))  # fmt: skip


TARGET_ROWS = (
    "client span chat_app: back to back, no-op store, redaction on",
    "client span chat_app: 1,000/s, SQLite store, redaction on",
)
"""The rows issue 13's target is about: record() of the span the client really produces, redaction on."""


def print_targets(results: dict[str, dict[str, float]]) -> None:
    """Each target row's p50 / p99 / p99.9 next to the target, and whether it is met."""
    print(f"\nTarget: Tracer.record() of the client's span, redaction on, p99 < {TARGET_P99_US:.0f} µs")
    for case in TARGET_ROWS:
        r = results.get(case)
        if r is None:
            continue
        met = "met" if r["p99_us"] < TARGET_P99_US else "NOT met"
        print(
            f"  {case}: p50 {r['p50_us']:.1f} µs, p99 {r['p99_us']:.1f} µs, p99.9 {r['p99_9_us']:.1f} µs"
            f" (target p99 < {TARGET_P99_US:.0f} µs: {met})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000, help="record() calls timed back to back")
    parser.add_argument("--paced-seconds", type=float, default=4.0, help="seconds per paced variant")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the store stays down")
    parser.add_argument("--rate", type=int, default=500, help="calls per second while it is down")
    parser.add_argument("--only-client", action="store_true", help="only the rows of real client spans")
    parser.add_argument("--quick-client", action="store_true", help="only the chat_app client span")
    args = parser.parse_args()

    rows: list[list[Any]] = []
    results: dict[str, dict[str, float]] = {}

    def add(case: str, r: dict[str, float]) -> None:
        results[case] = r
        stats = (r[k] for k in ("p50_us", "p90_us", "p99_us", "p99_9_us", "max_us", "mean_us"))
        rows.append([case, int(r["n"]), *stats, "yes" if r["p99_us"] < TARGET_P99_US else "NO"])

    if args.only_client:
        client_rows(args, add)
        report(
            "bench_tracer_client",
            "Tracer.record() of the spans the client produces (µs), spool on; target p99 < 50 µs",
            ["case", "calls", "p50", "p90", "p99", "p99.9", "max", "mean", "p99<50"],
            rows,
            results=results,
            args=vars(args),
        )
        print_targets(results)
        return
    for load, rate, sqlite, idle, process in LOADS:
        calls = args.calls if rate is None else int(rate * args.paced_seconds)
        for redact in (True, False):
            r = hot_path(calls=calls, rate=rate, redact=redact, sqlite=sqlite, idle=idle, process=process)
            add(f"{load}, redaction {'on' if redact else 'off'}", r)
    for name, rate in (("back to back", None), ("1,000/s", 1000.0), ("5,000/s", 5000.0)):
        calls = args.calls if rate is None else int(rate * args.paced_seconds)
        add(f"reference: json.dumps(span) alone, {name}", reference(calls=calls, rate=rate))
    client_rows(args, add)
    startup = process_startup()
    mem = store_down_memory(args.seconds, args.rate)
    report(
        "bench_tracer",
        "Tracer.record() of one LLM span (µs), spool on; target p99 < 50 µs",
        ["case", "calls", "p50", "p90", "p99", "p99.9", "max", "mean", "p99<50"],
        rows,
        results=results,
        store_down=mem,
        process_startup=startup,
        args=vars(args),
    )
    print_targets(results)
    print(
        f"\nProcess writer startup (median of 5): Tracer() returns in {startup['constructor_ms']:.1f} ms; "
        f"first span stored after {startup['first_span_stored_ms']:.0f} ms"
    )
    print(
        f"\nStore down {mem['seconds']:.0f} s at {args.rate}/s: {mem['calls']} calls, "
        f"{mem['queued_in_memory']} queued in memory, {mem['spooled']} spooled ({mem['spool_mb']:.1f} MB), "
        f"dropped {mem['dropped']}; tracemalloc peak {mem['traced_peak_mb']:.1f} MB, "
        f"RSS peak growth {mem['rss_peak_growth_mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()
