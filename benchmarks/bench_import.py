"""Import time of `steadyhand` side by side with its peers, each in a fresh interpreter.

Targets: ``from steadyhand import Client`` under 300 ms (the HTTP stack loads on the first call, not at
import) and a traced app (Client + Tracer + open_store) under 600 ms. The baseline (`pass`) is
subtracted; medians of N interleaved runs. Peers that are not installed are reported as such.
Run: .venv/bin/python benchmarks/bench_import.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _common import report

RUNS = 15
CLIENT = "from steadyhand import Client (target < 300 ms)"
TRACED = "traced app: Client + Tracer + open_store (target < 600 ms)"
CASES = {
    CLIENT: "from steadyhand import Client",
    TRACED: "from steadyhand import Client; from steadyhand.tracing import Tracer; "
    "from steadyhand.store import open_store",
    "first call's HTTP stack: steadyhand.providers.http (httpx)": "import steadyhand.providers.http",
    "import pydantic (reference)": "import pydantic",
    "import httpx (reference)": "import httpx",
    "import openai (reference)": "import openai",
    "import anthropic (reference)": "import anthropic",
    "import tensorzero (reference)": "import tensorzero",
    "import litellm (reference)": "import litellm",
}


def wall(code: str) -> float | None:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True)
    return (time.perf_counter() - start) * 1000 if done.returncode == 0 else None


def main() -> None:
    runs = 3 if "--quick" in sys.argv else RUNS
    installed = {label: code for label, code in CASES.items() if wall(code) is not None}
    samples: dict[str, list[float]] = {"baseline": [], **{k: [] for k in installed}}
    for _ in range(runs):  # interleaved, so machine noise hits every case alike
        samples["baseline"].append(wall("pass") or 0.0)
        for label, code in installed.items():
            samples[label].append(wall(code) or 0.0)
    base = statistics.median(samples["baseline"])
    rows: list[list[object]] = [
        [label, statistics.median(samples[label]) - base if label in installed else "not installed"]
        for label in CASES
    ]
    ms = {label: statistics.median(samples[label]) - base for label in installed}
    target = ms[CLIENT] < 300 and ms[TRACED] < 600
    report(
        "bench_import",
        f"Import time, ms above a bare interpreter (median of {runs} interleaved runs)",
        ["what", "ms"],
        rows,
        baseline_ms=base,
        target_met=target,
    )


if __name__ == "__main__":
    main()
