"""`make bench`: every benchmark in turn, each printing its table and writing benchmarks/results/*.json.

`--quick` shrinks each one (smaller counts, a 10 s outage) for a smoke run; the figures quoted in the
docs come from full runs. A benchmark that fails is reported and the rest still run.
Run: .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
# name -> (full-run arguments, quick-run arguments)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "bench_import": ([], []),
    "bench_client": ([], ["--calls", "300", "--rounds", "3"]),
    "bench_traced_call": ([], ["--calls", "300", "--rounds", "1"]),
    "bench_sim": ([], ["--requests", "3000", "--streams", "300"]),
    "bench_sim_heavy": ([], []),
    "bench_tracer": ([], ["--calls", "5000", "--seconds", "10"]),
    "bench_tracer_faults": ([], ["--calls", "1000"]),
    "bench_store": ([], ["--spans", "5000", "--fill", "100000", "--repeats", "10"]),
    "bench_local": ([], ["--rounds", "2"]),
    "bench_codecs": ([], ["--ops", "300", "--rounds", "2"]),
    "bench_async_transports": ([], ["--calls", "300", "--rounds", "1"]),
    "bench_async_concurrency": ([], ["--calls", "300", "--rounds", "1"]),
    # the full run installs LiteLLM and Portkey into benchmarks/.envs/ once (PyPI, npm)
    "bench_gateway_compare": ([], ["--seconds", "2", "--streams", "20", "--only", "steadyhand"]),
    "bench_gateway_instructions": ([], ["--requests", "200", "--warmup", "100"]),
    "bench_gateway_stream_instructions": (["--streams", "40"], ["--streams", "5"]),
    "bench_policies": ([], ["--calls", "300", "--rounds", "3", "--instructions", "0"]),
    "bench_chaos": ([], ["--calls", "500"]),
    "bench_structured": ([], ["--rounds", "1"]),
    "bench_structured_local": ([], ["--limit", "5"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run just these")
    args = parser.parse_args()
    failed: list[str] = []
    for name in args.only or BENCHMARKS:
        full, quick = BENCHMARKS[name]
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / f"{name}.py"), *(quick if args.quick else full)])
        verdict = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"=== {name}: {verdict} in {time.perf_counter() - started:.0f} s")
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
