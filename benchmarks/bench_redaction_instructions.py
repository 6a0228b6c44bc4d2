"""Instructions per redaction pre-check and per spool line, counted by valgrind (callgrind): a measure
the machine's load does not move, for comparing two versions of the hot path on a shared machine.

Run: ``.venv/bin/python benchmarks/bench_redaction_instructions.py [--calls 500] [--spans chat_app ...]``.
Prints a table and writes ``benchmarks/results/bench_redaction_instructions.json``. For each span the
client really produces (``tests/tracing/fixtures/client_spans.json``) and each operation, a child
interpreter runs the operation ``--calls`` times under callgrind, collecting only inside
``sys.call_tracing`` (which runs the timed loop and nothing else): the interpreter's start, the
imports and the span copies are not counted, so one run per operation suffices
(``PYTHONHASHSEED=0``). Operations: ``Redactor.may_find`` over the span's redactable JSON (the
pre-check alone), ``redacted_line`` (what ``record()`` does to a span besides pricing and the spool
write) with redaction on and off, and ``Tracer.record()`` itself (spool on, a no-op store; the writer
thread's instructions are not counted). Needs ``valgrind`` on the PATH.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import callgrind_instructions, report

_CHILD = """
import copy, pathlib, sys, tempfile
sys.path.insert(0, {bench!r})
from record_client_spans import load_spans
from steadyhand.tracing import Redactor, Tracer
from steadyhand.tracing._serialize import _REDACTED, encode, redacted_line
op, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = load_spans()[name]
redactor = Redactor()
body = encode({{k: v for k in _REDACTED if (v := getattr(base, k)) is not None}})
spans = [copy.deepcopy(base) for _ in range(n if op != "may_find" else 0)]
class NullStore:
    def write_spans(self, spans):
        return len(spans)
def run():
    if op == "may_find":
        for _ in range(n):
            redactor.may_find(body)
    elif op == "record()":
        for s in spans:
            tracer.record(s)
    else:
        r = redactor if op == "line, redaction on" else None
        for s in spans:
            redacted_line(s, r)
with tempfile.TemporaryDirectory() as tmp:
    tracer = Tracer(NullStore(), spool_dir=pathlib.Path(tmp), exit_timeout=None)
    for s in [copy.deepcopy(base) for _ in range(50)]:  # warm up: regex and price caches, the spool file
        tracer.record(s)
        redacted_line(copy.deepcopy(base), redactor)
    sys.call_tracing(run, ())
    tracer.close()
"""
OPERATIONS = ("may_find", "line, redaction on", "line, redaction off", "record()")


def per_call(code: str, op: str, span: str, n: int) -> float:
    """Instructions of one call: those counted inside ``sys.call_tracing`` (the loop of ``n``), over ``n``."""
    count = callgrind_instructions(code, op, span, str(n))
    if count == 0:
        raise RuntimeError("callgrind counted no instructions")
    return count / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--spans", nargs="*", default=["chat_app", "anthropic_messages", "chat_error"])
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    code = _CHILD.format(bench=str(Path(__file__).resolve().parent))
    results: dict[str, dict[str, float]] = {}
    rows: list[list[Any]] = []
    for span in args.spans:
        results[span] = {op: per_call(code, op, span, args.calls) for op in OPERATIONS}
        rows.append([span, *(results[span][op] for op in OPERATIONS)])
    report(
        "bench_redaction_instructions",
        f"Instructions per call (callgrind, {args.calls} calls), spans the client produces",
        ["span", *OPERATIONS],
        rows,
        results=results,
        args=vars(args),
    )


if __name__ == "__main__":
    main()
