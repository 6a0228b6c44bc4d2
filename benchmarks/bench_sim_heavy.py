"""One heavy request next to short ones: how long a short chat request waits while the simulator
builds a 2,048-input embeddings answer or a streamed echo of a 1 MiB prompt, against the same short
request on an idle simulator, side by side in one run (the simulator in its own process).

usage: python benchmarks/bench_sim_heavy.py
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import httpx

from _common import report, sim_process

PING: Any = {"model": "sim-basic", "messages": [{"role": "user", "content": "hi"}]}
HEAVY: dict[str, tuple[str, Any]] = {
    "embeddings, 2,048 inputs": (
        "/v1/embeddings",
        {"model": "text-embedding-3-small", "input": ["hello there world"] * 2048},
    ),
    "streamed echo, 1 MiB prompt": (
        "/v1/chat/completions",
        {"model": "sim-echo", "stream": True, "messages": [{"role": "user", "content": "word " * 2**18}]},
    ),
}


def _ping(client: httpx.Client, base: str) -> float:
    started = time.perf_counter()
    client.post(f"{base}/v1/chat/completions", json=PING)
    return time.perf_counter() - started


def _heavy(base: str, path: str, body: Any, answered: list[float]) -> None:
    with httpx.stream("POST", base + path, json=body, timeout=600) as response:
        answered.append(time.perf_counter())
        for _ in response.iter_raw():
            pass


def main() -> None:
    rows = []
    with sim_process() as base, httpx.Client(timeout=600) as client:
        for _ in range(20):
            _ping(client, base)
        idle = sorted(_ping(client, base) for _ in range(200))
        rows.append(["idle simulator", "-", len(idle), idle[len(idle) // 2] * 1e3, idle[-1] * 1e3, 1.0])
        for label, (path, body) in HEAVY.items():
            answered: list[float] = []
            worker = threading.Thread(target=_heavy, args=(base, path, body, answered))
            started = time.perf_counter()
            worker.start()
            during = []
            while worker.is_alive() and not answered:
                during.append(_ping(client, base))
            worker.join()
            build = answered[0] - started
            p50 = statistics.median(during)
            rows.append([label, build, len(during), p50 * 1e3, max(during) * 1e3, p50 / idle[len(idle) // 2]])
    report(
        "bench_sim_heavy",
        "short requests while one heavy request is built (ms; ratio = p50 / idle p50)",
        ["while", "build s", "short requests", "p50 ms", "max ms", "p50 ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
