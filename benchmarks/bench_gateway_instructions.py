"""Instructions per non-streamed request through `steadyhand serve` (policies and tracing on), counted by
callgrind: repeatable on a shared machine where timings are not.

The gateway runs under ``valgrind --tool=callgrind`` with collection off; once it answers, ``--warmup``
requests go through, collection is switched on for ``--requests`` more (``--connections`` at a time,
each a keep-alive connection), then off again and the counts are dumped. Every thread of the process is
counted (the tracer's writer thread too); nginx (benchmarks/_upstream.py) is the upstream, as in
bench_gateway_compare.py. ``callgrind_annotate`` on the printed file shows where the instructions go.

Run: .venv/bin/python benchmarks/bench_gateway_instructions.py [--requests 2000] [--connections 1]
     [--steadyhand-src PATH] [--no-trace] [--out /tmp/cg.gateway]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import free_port
from _upstream import MODEL, nginx_upstream

BODY = {"model": "bench", "messages": [{"role": "user", "content": "Say hello to the benchmark."}]}
POLICIES = "retry = { attempts = 2 }, breaker = { failures = 50 }"


def _config(base_url: str) -> str:
    return f"""
[providers.up]
kind = "openai_compatible"
base_url = "{base_url}"
api_key = "sk-bench"

[models]
bench = {{ target = "up:{MODEL}", {POLICIES} }}
"""


def _wait(url: str, proc: subprocess.Popen[bytes], within: float = 600) -> None:
    deadline = time.monotonic() + within
    data = json.dumps(BODY).encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the gateway exited at start (code {proc.returncode})")
        try:
            request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the gateway did not answer in time")


async def _drive(port: int, requests: int, connections: int) -> int:
    """``requests`` POSTs over ``connections`` keep-alive connections; returns how many were not 200."""
    body = json.dumps(BODY).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    length = re.compile(rb"content-length: (\d+)", re.IGNORECASE)
    left = requests
    failed = 0

    async def worker() -> None:
        nonlocal left, failed
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while left > 0:
            left -= 1
            writer.write(head + body)
            status_head = await reader.readuntil(b"\r\n\r\n")
            found = length.search(status_head)
            await reader.readexactly(int(found.group(1)) if found else 0)
            failed += not status_head.startswith(b"HTTP/1.1 200")
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--steadyhand-src", help="a src/ directory whose steadyhand to serve")
    parser.add_argument("--no-trace", action="store_true")
    parser.add_argument("--out", default=None, help="callgrind output file (default: a temp file)")
    args = parser.parse_args()
    env = dict(os.environ)
    # absolute: the gateway runs in a temp dir, where PYTHONPATH=src would name nothing and the
    # installed (main checkout's) steadyhand would be measured instead of this one
    paths = [args.steadyhand_src, *env.get("PYTHONPATH", "").split(os.pathsep)]
    env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in paths if p)
    with nginx_upstream() as up, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "steadyhand.toml").write_text(_config(up.base_url))
        out = args.out or str(Path(tempfile.gettempdir()) / f"callgrind.gateway.{os.getpid()}")
        port = free_port()
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
            f"--callgrind-out-file={out}", sys.executable, "-c",
            "import sys; from steadyhand.cli import main; sys.argv[0] = 'steadyhand'; main()",
            "serve", "--config", str(tmp / "steadyhand.toml"), "--port", str(port),
            *(["--no-trace"] if args.no_trace else []),
        ]  # fmt: skip
        log = (tmp / "serve.log").open("wb")
        proc = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait(f"http://127.0.0.1:{port}/v1/chat/completions", proc)
            asyncio.run(_drive(port, args.warmup, args.connections))
            subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
            failed = asyncio.run(_drive(port, args.requests, args.connections))
            subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        finally:
            proc.terminate()
            proc.wait(120)
            log.close()
    dumps = sorted(Path(out).parent.glob(Path(out).name + ".1-*"))  # the measured part, one per thread
    counts = [_instructions(d) for d in dumps]
    print(f"callgrind_annotate {' '.join(map(str, dumps))}")
    print(
        f"{args.requests} requests ({failed} not 200) at {args.connections} connection(s): "
        f"{sum(counts) / args.requests:,.0f} instructions per request, of which the event loop's thread "
        f"{counts[0] / args.requests:,.0f} and the others' "
        + ", ".join(f"{c / args.requests:,.0f}" for c in counts[1:] if c)
    )


def _instructions(dump: Path) -> int:
    found = re.findall(r"^totals: (\d+)", dump.read_text(errors="replace"), re.MULTILINE)
    return int(found[-1]) if found else 0


if __name__ == "__main__":
    main()
