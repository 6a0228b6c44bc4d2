"""Instructions the gateway spends per streamed event and per stream, counted by valgrind (callgrind): a
measure the machine's load does not move, for comparing two versions of the streaming path.

`steadyhand serve` (policies and tracing on, as in bench_gateway_compare.py) runs under callgrind with
instrumentation off while it starts; two nginx upstreams answer a fixed chat stream of ``--tokens``
content events and one of none. This process streams ``--streams`` sequential requests to each over one
connection (aiohttp, as bench_gateway_compare's TTFT rows), with the counters zeroed before and dumped
after each batch (``callgrind_control``). Per event = (long batch - short batch) / streams / tokens;
per stream = the short batch / streams (the request, the policies, the span: everything but the events).
The whole long stream's count is the most robust figure: the split moves a little with the tracer's
background writes (given ``SETTLE`` seconds to land in their own batch).
``--inbound anthropic`` sends the same streams to ``/v1/messages`` (a translated stream, for comparison);
``--no-trace`` serves without tracing (its writer thread's timing moves the per-stream figure a little).

Run: .venv/bin/python benchmarks/bench_gateway_stream_instructions.py [--streams 20] [--tokens 200]
     [--steadyhand-src PATH] [--keep DIR]   (needs valgrind; the annotate files are kept in DIR)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, report
from _upstream import MODEL, nginx_upstream

BODY = {"messages": [{"role": "user", "content": "Say hello to the benchmark."}], "stream": True}
POLICIES = "retry = { attempts = 2 }, breaker = { failures = 50 }"
SETTLE = 8.0
"""Seconds before each dump: valgrind runs one thread at a time, so the tracer's writer (SQLite) lags."""


def _config(long_url: str, short_url: str) -> str:
    return f"""
[providers.long]
kind = "openai_compatible"
base_url = "{long_url}"
api_key = "sk-bench"

[providers.short]
kind = "openai_compatible"
base_url = "{short_url}"
api_key = "sk-bench"

[models]
long = {{ target = "long:{MODEL}", {POLICIES} }}
short = {{ target = "short:{MODEL}", {POLICIES} }}
"""


async def _batch(url: str, model: str, count: int, anthropic: bool) -> None:
    body = {**BODY, "model": model}
    headers = {"content-type": "application/json"}
    if anthropic:
        body["max_tokens"] = 1000
        headers["anthropic-version"] = "2023-06-01"
    data = json.dumps(body).encode()
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            async with session.post(url, data=data, headers=headers) as resp:
                text = await resp.read()
                end = b"message_stop" if anthropic else b"[DONE]"
                if resp.status != 200 or end not in text[-200:]:
                    raise SystemExit(f"a stream failed: {resp.status} {text[-300:]!r}")


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def _total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {path}")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], within: float = 600) -> None:
    import urllib.request

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"steadyhand serve exited at start (code {proc.returncode})")
        try:
            with urllib.request.urlopen(url.replace("/v1/chat/completions", "/healthz"), timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("steadyhand serve did not start in time")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument(
        "--steadyhand-src", default=None, help="a src/ tree to run instead of the installed one"
    )
    parser.add_argument("--inbound", choices=("openai", "anthropic"), default="openai")
    parser.add_argument("--keep", default=None, help="keep the callgrind files in this directory")
    parser.add_argument("--no-trace", action="store_true", help="serve with --no-trace (what tracing costs)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is missing: apt-get install -y valgrind")
    env = dict(os.environ, PYTHONHASHSEED="0")
    if args.steadyhand_src:
        env["PYTHONPATH"] = os.pathsep.join([args.steadyhand_src, env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    with (
        nginx_upstream(tokens=args.tokens) as long_up,
        nginx_upstream(tokens=0) as short_up,
        tempfile.TemporaryDirectory() as tmpdir,
    ):
        tmp = Path(args.keep or tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "steadyhand.toml").write_text(_config(long_up.sse_base_url, short_up.sse_base_url))
        port = free_port()
        out = tmp / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            sys.executable, "-c",
            "import sys; from steadyhand.cli import main; sys.argv[0] = 'steadyhand'; main()",
            "serve", "--config", str(tmp / "steadyhand.toml"), "--port", str(port), "--workers", "1",
            *(["--no-trace"] if args.no_trace else []),
        ]  # fmt: skip
        path = "/v1/messages" if args.inbound == "anthropic" else "/v1/chat/completions"
        url = f"http://127.0.0.1:{port}{path}"
        with (tmp / "serve.log").open("wb") as log:
            proc = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(f"http://127.0.0.1:{port}/v1/chat/completions", proc)
            anthropic = args.inbound == "anthropic"
            asyncio.run(_batch(url, "long", 5, anthropic))  # warm up: imports, pools, the tracer's store
            asyncio.run(_batch(url, "short", 5, anthropic))
            time.sleep(2)
            _control(proc.pid, "--instr=on")
            totals = {}
            for model in ("long", "short"):
                _control(proc.pid, "--zero")
                asyncio.run(_batch(url, model, args.streams, anthropic))
                time.sleep(SETTLE)  # the tracer's writer thread stores the batch's spans inside it
                _control(proc.pid, f"--dump={model}")
                dumps = sorted(tmp.glob("callgrind.out.*"), key=lambda p: p.stat().st_mtime)
                totals[model] = _total(dumps[-1])
                dumps[-1].rename(tmp / f"callgrind.{model}")
        finally:
            proc.terminate()
            proc.wait(60)
    per_event = (totals["long"] - totals["short"]) / args.streams / args.tokens
    per_stream = totals["short"] / args.streams
    rows = [
        ["per event", round(per_event)],
        ["per stream, without its events", round(per_stream)],
        [f"per stream of {args.tokens} events", round(totals["long"] / args.streams)],
    ]
    traced = "no tracing" if args.no_trace else "tracing on"
    title = (
        f"Gateway instructions, {args.inbound} inbound, OpenAI-format upstream, {traced} "
        f"({args.streams} streams each)"
    )
    report("bench_gateway_stream_instructions", title, ["instructions", "count"], rows, inbound=args.inbound)
    if args.keep:
        print(f"callgrind files: {tmp}/callgrind.long, callgrind.short (callgrind_annotate them)")


if __name__ == "__main__":
    main()
