"""Shared bits for benchmarks: a simulator in its own process, result tables and JSON files."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sim_process(*args: str) -> Iterator[str]:
    """Run `steadyhand sim` in its own process so its CPU time is not counted as ours."""
    port = free_port()
    exe = Path(sys.executable).with_name("steadyhand")
    proc = subprocess.Popen(
        [str(exe), "sim", "--host", "127.0.0.1", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("the simulator did not start listening within 20 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def report(
    name: str, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], **extra: Any
) -> None:
    """Print a table and write benchmarks/results/<name>.json."""
    widths = [max(len(str(c)), *(len(_fmt(r[i])) for r in rows)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(_fmt(v).ljust(w) for v, w in zip(r, widths, strict=True)))
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "benchmark": name,
        "title": title,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "columns": list(columns),
        "rows": [list(r) for r in rows],
        **extra,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    print(f"(written to {RESULTS / f'{name}.json'})")


def _fmt(v: Any) -> str:
    return f"{v:,.3f}" if isinstance(v, float) else str(v)


async def concurrent_calls(
    call: Callable[[], Awaitable[Any]], concurrency: int, calls: int
) -> tuple[float, float]:
    """(calls/s, CPU ms per call) for ``calls`` calls made by ``concurrency`` tasks; a ``flush`` attribute
    on ``call`` (a tracer's) is waited for inside the measurement."""
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    flush = getattr(call, "flush", None)
    if flush is not None:
        assert flush()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return calls / wall, cpu / calls * 1000


_COLLECTED = re.compile(r"Collected : (\d+)")


def callgrind_instructions(code: str, *args: str) -> int:
    """Instructions ``python -c code args`` runs inside ``sys.call_tracing`` under callgrind: counts that
    do not move with the machine's load, where timings on a shared machine do."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--collect-atstart=no",
            "--toggle-collect=sys_call_tracing",
            sys.executable,
            "-c",
            code,
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output: {done.stderr[-500:]}")
    return int(found.group(1))
