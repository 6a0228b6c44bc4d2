"""Throughput of the provider simulator: non-streamed requests/s and streamed tokens/s over loopback.

Starts ``steadyhand sim`` in a subprocess (its own core) and drives it from this process with N
keep-alive connections of a minimal raw-asyncio HTTP/1.1 client (httpx would measure itself, not the
sim). Bounded in request count and wall time. Prints a table and writes benchmarks/results/bench_sim.json.

usage: python benchmarks/bench_sim.py [--requests 20000] [--streams 2000] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "bench_sim.json"
LONG_ANSWER = " ".join(f"word{i % 50}," for i in range(100))  # 200 tokens
TIME_CAP = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _request(port: int, *, stream: bool) -> bytes:
    body = {"model": "sim-basic", "messages": [{"role": "user", "content": "Say hello."}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    raw = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
    )
    return head.encode() + b"content-length: %d\r\n\r\n" % len(raw) + raw


async def _worker(port: int, payload: bytes, *, stream: bool, budget: list[int], deadline: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    done = 0
    while budget[0] > 0 and time.perf_counter() < deadline:
        budget[0] -= 1
        writer.write(payload)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer: {head[:80]!r}")
        if stream:
            await reader.readuntil(b"\r\n0\r\n\r\n")
        else:
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        done += 1
    writer.close()
    await writer.wait_closed()
    return done


async def _drive(port: int, *, count: int, connections: int, stream: bool) -> tuple[int, float]:
    payload = _request(port, stream=stream)
    budget = [count]
    started = time.perf_counter()
    deadline = started + TIME_CAP
    done = await asyncio.gather(
        *(_worker(port, payload, stream=stream, budget=budget, deadline=deadline) for _ in range(connections))
    )
    return sum(done), time.perf_counter() - started


def _wait_ready(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("steadyhand sim did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--streams", type=int, default=2_000)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "bench.yaml"
        scenario.write_text(json.dumps({"default_text": LONG_ANSWER}))  # JSON is YAML
        exe = Path(sys.executable).with_name("steadyhand")
        cmd = [str(exe), "sim", "--port", str(port), "--scenario", str(scenario)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        try:
            _wait_ready(port)
            asyncio.run(_drive(port, count=500, connections=args.connections, stream=False))  # warm-up
            plain, plain_s = asyncio.run(
                _drive(port, count=args.requests, connections=args.connections, stream=False)
            )
            streams, stream_s = asyncio.run(
                _drive(port, count=args.streams, connections=args.connections, stream=True)
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    tokens_per_stream = 200
    results = {
        "connections": args.connections,
        "non_streamed_requests": plain,
        "non_streamed_requests_per_s": round(plain / plain_s),
        "streams": streams,
        "tokens_per_stream": tokens_per_stream,
        "streams_per_s": round(streams / stream_s),
        "streamed_tokens_per_s": round(streams * tokens_per_stream / stream_s),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"steadyhand sim over loopback, {args.connections} keep-alive connections")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for key, value in results.items():
            table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
        Console().print(table)
    except ImportError:  # pragma: no cover
        print(json.dumps(results, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
