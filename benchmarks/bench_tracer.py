"""Tracer benchmark: the hot-path cost of record() for one realistic LLM span, and the writer's memory
with the store down under steady traffic.

Run: ``.venv/bin/python benchmarks/bench_tracer.py [--calls 20000] [--seconds 60] [--rate 500]``.
Prints a table and writes ``benchmarks/results/bench_tracer.json``. The hot path is measured per call
with ``perf_counter_ns`` (spool on, redaction on, a no-op store), beside the same with redaction off.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report
from steadyhand.errors import StoreError
from steadyhand.tracing import SpanRecord, Tracer

SYSTEM = "You are the support assistant for ACME. Answer briefly, cite the policy, never promise refunds. "


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


def hot_path(calls: int, *, redact: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        tracer = Tracer(NullStore(), spool_dir=Path(tmp) / "spool", redact=redact, exit_timeout=None)
        spans = [llm_span(i) for i in range(calls)]
        for s in spans[:500]:  # warm up (regex caches, price lookups, page cache)
            tracer.record(s)
        samples = []
        gc.disable()
        try:
            for s in spans[500:]:
                t0 = time.perf_counter_ns()
                tracer.record(s)
                samples.append(time.perf_counter_ns() - t0)
        finally:
            gc.enable()
        assert tracer.close(timeout=30)
    samples.sort()
    n = len(samples)
    return {
        "p50_us": samples[n // 2] / 1000,
        "p99_us": samples[int(n * 0.99)] / 1000,
        "max_us": samples[-1] / 1000,
        "mean_us": sum(samples) / n / 1000,
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000, help="record() calls timed per variant")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the store stays down")
    parser.add_argument("--rate", type=int, default=500, help="calls per second while it is down")
    args = parser.parse_args()

    on = hot_path(args.calls, redact=True)
    off = hot_path(args.calls, redact=False)
    mem = store_down_memory(args.seconds, args.rate)
    rows = [
        ["record() LLM span, redaction on", on["p50_us"], on["p99_us"], on["max_us"], on["mean_us"]],
        ["record() LLM span, redaction off", off["p50_us"], off["p99_us"], off["max_us"], off["mean_us"]],
    ]
    report(
        "bench_tracer",
        f"Tracer hot path over {args.calls - 500} calls (µs); spool on, no-op store",
        ["case", "p50 µs", "p99 µs", "max µs", "mean µs"],
        rows,
        store_down=mem,
        args=vars(args),
    )
    print(
        f"\nStore down {mem['seconds']:.0f} s at {args.rate}/s: {mem['calls']} calls, "
        f"{mem['queued_in_memory']} queued in memory, {mem['spooled']} spooled ({mem['spool_mb']:.1f} MB), "
        f"dropped {mem['dropped']}; tracemalloc peak {mem['traced_peak_mb']:.1f} MB, "
        f"RSS peak growth {mem['rss_peak_growth_mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()
