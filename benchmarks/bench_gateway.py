"""Added latency and throughput of ``steadyhand serve`` in front of a fixed-answer upstream (nginx).

Side by side in one run, same upstream: wrk against nginx directly, then against the gateway (one
worker pinned to one core, an alias with a retry policy, tracing on or off). nginx answers a fixed
chat completion so the upstream is never the bottleneck. Reports p50/p99 at 1 connection (the added
latency is the difference) and requests/s at 8, 32 and 64 connections, plus the gateway's own
``x-steadyhand-overhead-ms`` as it reports it.

usage: python benchmarks/bench_gateway.py [--seconds 5] [--trace]
Needs Debian's nginx and wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import free_port, report

ANSWER = {
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "bench-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!", "refusal": None},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}  # fmt: skip
BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "Say hello."}]})
LUA = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["content-type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  local failed = e.status + e.connect + e.read + e.write + e.timeout
  io.write(string.format("JSON [%%d, %%d, %%d, %%d, %%d]\\n", latency:percentile(50),
    latency:percentile(99), summary.requests, failed, summary.duration))
end
"""


def _nginx(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    body = json.dumps(ANSWER).replace("'", "\\'")
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
worker_processes 1; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp}; keepalive_requests 1000000; tcp_nodelay on;
  server {{ listen 127.0.0.1:{port};
    location / {{ default_type application/json; return 200 '{body}'; }} }}
}}""")
    command = ["taskset", "-c", "0", "nginx", "-c", str(conf), "-p", str(tmp)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"http://127.0.0.1:{port}/v1/chat/completions", post=True)
    except BaseException:
        proc.terminate()
        proc.wait(10)
        raise
    return proc


def _wait(url: str, *, post: bool = False) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            (httpx.post(url, content=BODY) if post else httpx.get(url)).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within 20 s")


def _gateway(tmp: Path, upstream: str, port: int, trace: bool) -> subprocess.Popen[bytes]:
    (tmp / "steadyhand.toml").write_text(
        f'[providers.up]\nkind = "openai_compatible"\nbase_url = "{upstream}/v1"\n\n'
        '[models]\nbench = { target = "up:bench-model-2024-01-01", retry = { attempts = 2 } }\n'
    )
    exe = [sys.executable, "-c", "from steadyhand.cli import main; main()"]
    args = ["serve", "--port", str(port), "--config", str(tmp / "steadyhand.toml")]
    if not trace:
        args.append("--no-trace")
    env = {**os.environ, "STEADYHAND_DATABASE_URL": f"sqlite:///{tmp / 'traces.db'}"}
    proc = subprocess.Popen(["taskset", "-c", "1", *exe, *args], env=env, cwd=tmp, stdout=subprocess.DEVNULL)
    try:
        _wait(f"http://127.0.0.1:{port}/healthz")
    except BaseException:
        proc.terminate()
        proc.wait(30)
        raise
    return proc


def _wrk(url: str, connections: int, seconds: float, script: Path) -> dict[str, float]:
    threads, duration = min(connections, 2), f"{max(1, round(seconds))}s"
    command = ["taskset", "-c", "0", "wrk", "-t", str(threads), "-c", str(connections), "-d", duration]
    out = subprocess.run(
        [*command, "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 60
    ).stdout
    match = re.search(r"^JSON (.*)$", out, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    p50, p99, requests, errors, us = json.loads(match.group(1))
    data = {"p50": p50, "p99": p99, "requests": requests, "errors": errors, "us": us}
    data["rps"] = data["requests"] / (data["us"] / 1e6)
    return data


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--trace", action="store_true", help="tracing on (to SQLite in a temp dir)")
    options = parser.parse_args()
    for tool in ("nginx", "wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install nginx wrk util-linux)")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        script = tmp / "post.lua"
        script.write_text(LUA % BODY)
        get = tmp / "get.lua"
        get.write_text("done = " + (LUA % BODY).split("done = ", 1)[1])
        up_port, gw_port = free_port(), free_port()
        nginx = _nginx(tmp, up_port)
        gateway = None
        try:
            gateway = _gateway(tmp, f"http://127.0.0.1:{up_port}", gw_port, options.trace)
            direct = f"http://127.0.0.1:{up_port}/v1/chat/completions"
            through = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
            _wrk(through, 8, 1.0, script)  # warm up
            overhead = [float(httpx.post(through, content=BODY, headers={"content-type": "application/json"})
                              .headers["x-steadyhand-overhead-ms"]) for _ in range(200)]  # fmt: skip
            overhead.sort()
            rows = []
            base = _wrk(direct, 1, options.seconds, script)
            gw = _wrk(through, 1, options.seconds, script)
            rows.append(
                ["p50 at c=1 (ms)", base["p50"] / 1000, gw["p50"] / 1000, (gw["p50"] - base["p50"]) / 1000]
            )
            rows.append(
                ["p99 at c=1 (ms)", base["p99"] / 1000, gw["p99"] / 1000, (gw["p99"] - base["p99"]) / 1000]
            )
            cpu_rows = []
            for c in (8, 32, 64):
                b = _wrk(direct, c, options.seconds, script)
                before = _cpu(gateway.pid)
                g = _wrk(through, c, options.seconds, script)
                per = (_cpu(gateway.pid) - before) / max(g["requests"], 1) * 1000
                cpu_rows.append([f"gateway CPU per request at c={c} (ms)", "", per, ""])
                rows.append(
                    [f"req/s at c={c}", round(b["rps"]), round(g["rps"]), f"{g['rps'] / b['rps']:.3f}x"]
                )
                if g["errors"]:
                    rows.append([f"errors at c={c}", b["errors"], g["errors"], ""])
            rows += cpu_rows
            health = _wrk(f"http://127.0.0.1:{gw_port}/healthz", 32, options.seconds, get)
            rows.append(["server core alone (/healthz) req/s at c=32", "", round(health["rps"]), ""])
            rows.append(["x-steadyhand-overhead-ms p50", "", overhead[len(overhead) // 2], ""])
            rows.append(["x-steadyhand-overhead-ms p99", "", overhead[int(len(overhead) * 0.99)], ""])
        finally:
            if gateway is not None:
                gateway.terminate()
                gateway.wait(30)
            nginx.terminate()
            nginx.wait(10)
    report(
        "bench_gateway", f"steadyhand serve vs nginx direct (tracing {'on' if options.trace else 'off'}, "
        "retry policy on, gateway pinned to one core, wrk on the other)",
        ["measure", "direct", "gateway", "added / ratio"], rows, trace=options.trace,
    )  # fmt: skip


if __name__ == "__main__":
    main()
