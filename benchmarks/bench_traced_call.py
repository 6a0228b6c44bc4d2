"""What tracing costs inside a real call, piece by piece: CPU per non-streamed ``Client.chat`` against
the simulator (in its own process), untraced and traced into a no-op store, and the thread CPU of the
tracing pieces measured in place (``time.thread_time_ns`` around ``Tracer.record``, the redaction
pre-check, the queue and spool append, and ``span_for``, which builds the span from the call).

Back to back (``bench_tracer.py``) the same pieces run with warm caches; here each call waits on the
network while the other core runs the simulator, so each call starts cold, as in an app. Compare the
``record()`` row with ``bench_tracer.py``'s. The wrappers add a little to every traced call.
Run: .venv/bin/python benchmarks/bench_traced_call.py [--calls 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import steadyhand
from _common import report, sim_process
from steadyhand import _client_base
from steadyhand.tracing import SpanRecord, Tracer
from steadyhand.tracing import tracer as tracer_module
from steadyhand.tracing._precheck import Precheck

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello to the benchmark."},
]
MODEL = "gpt-4o-2024-08-06"


class NullStore:
    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        return len(spans)


def _timed(owner: Any, name: str, label: str, spent: dict[str, int]) -> None:
    """Replace ``owner.name`` with a wrapper adding its thread CPU to ``spent[label]``."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.thread_time_ns()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0) + time.thread_time_ns() - began

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    spent: dict[str, int] = {}
    pieces = {
        "Tracer.record()": (tracer_module.Tracer, "record"),
        "  redaction pre-check": (Precheck, "may_find"),
        "  queue and spool append": (tracer_module.Tracer, "_enqueue"),
        "span_for (the span built)": (_client_base, "span_for"),
    }
    for label, (owner, name) in pieces.items():
        _timed(owner, name, label, spent)
    rows: list[list[Any]] = []
    with sim_process() as base, tempfile.TemporaryDirectory() as tmp:
        config = steadyhand.Config.model_validate(
            {"providers": {"sim": {"kind": "sim", "base_url": base}}, "models": {"default": f"sim:{MODEL}"}}
        )
        tracer = Tracer(NullStore(), spool_dir=Path(tmp), exit_timeout=None)
        clients: dict[str, Callable[[], object]] = {}
        plain, traced = steadyhand.Client(config), steadyhand.Client(config, tracer=tracer)
        clients["untraced Client.chat"] = lambda: plain.chat(MESSAGES)
        clients["traced Client.chat (no-op store)"] = lambda: traced.chat(MESSAGES)
        for call in clients.values():
            for _ in range(200):
                call()
        cpu: dict[str, list[float]] = {name: [] for name in clients}
        per_piece: dict[str, list[float]] = {label: [] for label in pieces}
        for _ in range(args.rounds):
            for name, call in clients.items():
                spent.clear()
                began = time.process_time()
                for _ in range(args.calls):
                    call()
                if name.startswith("traced"):
                    tracer.flush()
                cpu[name].append((time.process_time() - began) / args.calls * 1e6)
                if name.startswith("traced"):
                    for label in pieces:
                        per_piece[label].append(spent.get(label, 0) / args.calls / 1000)
        tracer.close()
    for name, values in cpu.items():
        rows.append([name, min(values), max(values)])
    for label, values in per_piece.items():
        rows.append([label, min(values), max(values)])
    report(
        "bench_traced_call",
        f"CPU µs per call, and per traced call for each piece measured in place ({args.calls} calls x "
        f"{args.rounds} rounds; load average {os.getloadavg()[0]:.1f})",
        ["what", "min µs", "max µs"],
        rows,
    )


if __name__ == "__main__":
    main()
