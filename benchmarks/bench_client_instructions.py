"""Instructions per non-streamed call, counted by valgrind (callgrind): ``bench_client.py``'s contenders
in a measure the machine's load does not move (on 2 shared cores its CPU ratios swing by 0.3x between
runs of the same code).

Run: ``.venv/bin/python benchmarks/bench_client_instructions.py [--calls 200]``. Prints a table and
writes ``benchmarks/results/bench_client_instructions.json``. Each contender runs in a child interpreter
under callgrind, collecting only inside ``sys.call_tracing`` (``--calls`` calls, then for the traced
client ``tracer.flush()``, so the writer thread's instructions are counted too), once with no calls to
subtract what collecting itself costs. The simulator runs in its own process, as in ``bench_client``.
What this leaves out is the kernel's side: system calls (the spool's ``os.write``), thread wake-ups.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import callgrind_instructions, report, sim_process

_CHILD = """
import json, pathlib, sys, tempfile
import httpx, steadyhand
from steadyhand.tracing import Tracer
which, base, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello to the benchmark."},
]
MODEL = "gpt-4o-2024-08-06"
class NullStore:
    def write_spans(self, spans):
        return len(spans)
config = steadyhand.Config.model_validate(
    {"providers": {"sim": {"kind": "sim", "base_url": base}}, "models": {"default": f"sim:{MODEL}"}}
)
tmp = tempfile.mkdtemp()
tracer = None
if which == "traced":
    tracer = Tracer(NullStore(), spool_dir=pathlib.Path(tmp) / "spool", exit_timeout=None)
if which == "raw":
    raw, body = httpx.Client(), {"model": MODEL, "messages": MESSAGES}
    def call():
        r = raw.post(f"{base}/v1/chat/completions", json=body)
        r.raise_for_status()
        return json.loads(r.content)["choices"][0]["message"]["content"]
else:
    client = steadyhand.Client(config, tracer=tracer)
    def call():
        return client.chat(MESSAGES).text
for _ in range(50):  # warm up: connections, caches, the spool file
    call()
if tracer is not None:
    tracer.flush(30)
def run():
    for _ in range(n):
        call()
    if tracer is not None:
        assert tracer.flush(30)
sys.call_tracing(run, ())
"""
CONTENDERS = {
    "raw": "raw httpx.Client",
    "plain": "steadyhand Client",
    "traced": "steadyhand Client, traced (no-op store)",
}


def collected(which: str, base: str, n: int) -> int:
    return callgrind_instructions(_CHILD, which, base, str(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    per_call: dict[str, float] = {}
    with sim_process() as base:
        for which in CONTENDERS:
            per_call[which] = (collected(which, base, args.calls) - collected(which, base, 0)) / args.calls
    rows: list[list[Any]] = [
        [label, per_call[which], per_call[which] / per_call["raw"]] for which, label in CONTENDERS.items()
    ]
    report(
        "bench_client_instructions",
        f"Instructions per non-streamed call (callgrind, {args.calls} calls; traced: with its flush)",
        ["caller", "instructions/call", "vs raw httpx"],
        rows,
        results=per_call,
        args=vars(args),
    )


if __name__ == "__main__":
    main()
