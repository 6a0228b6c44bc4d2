"""Import time of `steadyhand` (target: under 300 ms; heavy modules load lazily).

Each measurement is a fresh interpreter; the baseline (`pass`) is subtracted, medians of N runs.
Run: .venv/bin/python benchmarks/bench_import.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _common import report

RUNS = 15
CASES = {
    "import steadyhand": "import steadyhand",
    "steadyhand.Client (loads httpx, pydantic)": "import steadyhand; steadyhand.Client",
    "import httpx (reference)": "import httpx",
    "import openai (reference)": "import openai",
}


def wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    samples: dict[str, list[float]] = {"baseline": [], **{k: [] for k in CASES}}
    for _ in range(RUNS):  # interleaved, so machine noise hits every case alike
        samples["baseline"].append(wall("pass"))
        for label, code in CASES.items():
            samples[label].append(wall(code))
    base = statistics.median(samples["baseline"])
    rows = [[label, statistics.median(samples[label]) - base] for label in CASES]
    target = rows[0][1] < 300
    report(
        "bench_import",
        f"Import time, ms above a bare interpreter (median of {RUNS}; target: import steadyhand < 300 ms)",
        ["what", "ms"],
        rows,
        baseline_ms=base,
        target_met=target,
    )


if __name__ == "__main__":
    main()
