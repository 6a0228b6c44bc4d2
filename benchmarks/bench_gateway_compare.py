"""Gateways side by side in front of one fast upstream: added latency p50/p99 at 1 connection, requests/s at
8, 32 and 64 connections, streaming TTFT and whole-stream overhead, CPU per request and RSS, for

  (a) the upstream direct (nginx answering a fixed chat completion / SSE stream, benchmarks/_upstream.py),
  (b) `steadyhand serve` (one worker, policies and tracing on),
  (c) LiteLLM's proxy (`litellm[proxy]`, one worker),
  (d) Portkey's gateway (npm `@portkey-ai/gateway`),
  and `steadyhand serve` with ``async_transport = "aiohttp"`` (``steadyhand-aiohttp``, in every full
  run) or, with ``--only steadyhand-httpx``, ``"httpx"``, instead of the default httptools one (the
  transport choice, measured through the server), with ``--only steadyhand-notrace`` without tracing
  (what tracing costs),

each configured as a pass-through to the same upstream. Each gateway runs pinned to one core (taskset);
the load generator (wrk from Debian, else an aiohttp one) and nginx share the other. LiteLLM and Portkey
are installed by this script into git-ignored environments under benchmarks/.envs/ (never steadyhand
dependencies); a gateway that cannot be installed or started is skipped with the reason, and so is
`steadyhand serve` while the CLI has no `serve` command. Targets (issue 15) for steadyhand serve:
<= 0.5 ms p50 and <= 1 ms p99 added; >= 2,500 req/s on one core and >= 0.9x its best at 64 connections;
stream overhead <= 1 ms; CPU <= 0.4 ms per request; RSS <= 120 MB and flat within 10% (``--soak 600``).
CPU per request counts what the gateway still does once the load stops (``drain s``: a trace writer
that fell behind catches up there, and requests/s it did not sustain would otherwise look better).
For each `steadyhand serve` it also reports the overhead the gateway reports of itself
(``x-steadyhand-overhead-ms`` p50/p99 over sequential calls) and what its HTTP core alone serves
(``GET /healthz`` req/s at 32 connections, wrk only). ``--soak`` then loads it at 64 connections,
samples its RSS every 30 s and says whether it held the target. The load average is recorded with
every figure: the machine is shared.

Run: .venv/bin/python benchmarks/bench_gateway_compare.py [--seconds 10] [--only direct steadyhand ...]
     [--soak 600] [--steadyhand-src PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from _common import free_port, report
from _upstream import CONTENT, MODEL, Upstream, nginx_upstream

HERE = Path(__file__).parent
ENVS = HERE / ".envs"
CONNECTIONS = (8, 32, 64)
BODY = {"model": "bench", "messages": [{"role": "user", "content": "Say hello to the benchmark."}]}


@dataclass
class Target:
    """One thing to load: where to send, the extra headers it needs, and its processes (for CPU/RSS)."""

    name: str
    url: str
    stream_url: str
    headers: dict[str, str] = field(default_factory=dict)
    stream_headers: dict[str, str] = field(default_factory=dict)
    pid: int | None = None
    model: str = "bench"
    stream_model: str = "bench-sse"


class Skip(Exception):
    """This gateway cannot run here; the message says why and what would fix it."""


# -- processes: CPU and memory from /proc ---------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    pids, i = [pid], 0
    while i < len(pids):
        for task in Path(f"/proc/{pids[i]}/task").glob("*"):
            with contextlib.suppress(OSError):
                pids += [int(c) for c in (task / "children").read_text().split()]
        i += 1
    return pids


def cpu_seconds(pid: int) -> float:
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def rss_mb(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def settle(pid: int, *, limit: float = 60.0) -> float:
    """Seconds until the process tree is idle once the load stopped (under 2% of a core over 0.5 s): a
    gateway whose background work (the trace writer) fell behind finishes it here, so CPU per request
    counts it, and the drain time says it was behind (requests/s it did not sustain)."""
    start = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - start < limit:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last < 0.01:
            return max(time.monotonic() - start - 0.5, 0.0)
        last = now
    return limit


def _pinned(command: list[str], cpus: set[int] | None) -> list[str]:
    if not cpus:
        return command
    return ["taskset", "-c", ",".join(map(str, sorted(cpus))), *command]


def _wait_answering(target: Target, proc: subprocess.Popen[bytes], log: Path, within: float = 120) -> None:
    """Until one real request through the gateway gets the upstream's answer (or fail saying why)."""
    import urllib.error
    import urllib.request

    deadline, last = time.monotonic() + within, "no answer yet"
    body = json.dumps({**BODY, "model": target.model}).encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Skip(f"{target.name} exited at start (code {proc.returncode}): {_tail(log)}")
        request = urllib.request.Request(
            target.url, data=body, headers={"content-type": "application/json", **target.headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                answer = json.loads(resp.read())
            if answer["choices"][0]["message"]["content"] == CONTENT:
                return
            last = f"unexpected answer {answer!r:.300}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:300]!r}"
        except (OSError, ValueError, KeyError) as exc:
            last = repr(exc)
        time.sleep(0.25)
    raise Skip(f"{target.name} did not answer correctly within {within:.0f} s: {last}; log: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-1500:] if log.exists() else ""


@contextmanager
def _process(
    command: list[str], *, cwd: Path, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# -- the gateways ---------------------------------------------------------------------------------------


@contextmanager
def direct(up: Upstream, tmp: Path, cpus: set[int] | None, args: argparse.Namespace) -> Iterator[Target]:
    yield Target(
        "upstream direct (nginx)", f"{up.base_url}/chat/completions", f"{up.sse_base_url}/chat/completions"
    )


def _steadyhand_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if args.steadyhand_src:
        env["PYTHONPATH"] = os.pathsep.join([args.steadyhand_src, env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    return env


@contextmanager
def steadyhand_serve(
    up: Upstream,
    tmp: Path,
    cpus: set[int] | None,
    args: argparse.Namespace,
    transport: str | None = None,
    trace: bool = True,
) -> Iterator[Target]:
    env = _steadyhand_env(args)
    command = [
        sys.executable,
        "-c",
        "import sys; from steadyhand.cli import main; sys.argv[0] = 'steadyhand'; main()",
    ]
    probe = subprocess.run([*command, "serve", "--help"], env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        raise Skip(
            "`steadyhand serve` is not available in this checkout yet (issue 15's gateway); run again once "
            "it is on main, or pass --steadyhand-src pointing at a tree that has it"
        )
    policies = "retry = { attempts = 2 }, breaker = { failures = 50 }"
    choice = "" if transport is None else f'async_transport = "{transport}"\n'
    (tmp / "steadyhand.toml").write_text(
        f"""{choice}
[providers.up]
kind = "openai_compatible"
base_url = "{up.base_url}"
api_key = "sk-bench"

[providers.up-sse]
kind = "openai_compatible"
base_url = "{up.sse_base_url}"
api_key = "sk-bench"

[models]
bench = {{ target = "up:{MODEL}", {policies} }}
bench-sse = {{ target = "up-sse:{MODEL}", {policies} }}
"""
    )
    port = free_port()
    log = tmp / "steadyhand.log"
    serve = [
        *command,
        "serve",
        "--config",
        str(tmp / "steadyhand.toml"),
        "--port",
        str(port),
        "--workers",
        "1",
        *([] if trace else ["--no-trace"]),
    ]
    with _process(_pinned(serve, cpus), cwd=tmp, env=env, log=log) as proc:
        base = f"http://127.0.0.1:{port}/v1/chat/completions"
        name = "steadyhand serve" + ("" if transport is None else f" ({transport})")
        name += "" if trace else " (no trace)"
        target = Target(name, base, base, pid=proc.pid)
        _wait_answering(target, proc, log)
        yield target


def _ensure_litellm() -> Path:
    exe = ENVS / "litellm" / "bin" / "litellm"
    if exe.exists():
        return exe
    print("installing litellm[proxy] into benchmarks/.envs/litellm (once)...", flush=True)
    subprocess.check_call([sys.executable, "-m", "venv", str(ENVS / "litellm")])
    code = subprocess.call([str(ENVS / "litellm" / "bin" / "pip"), "install", "-q", "litellm[proxy]"])
    if code != 0 or not exe.exists():
        raise Skip("could not install litellm[proxy] into benchmarks/.envs/litellm (pip failed)")
    return exe


@contextmanager
def litellm(up: Upstream, tmp: Path, cpus: set[int] | None, args: argparse.Namespace) -> Iterator[Target]:
    exe = _ensure_litellm()
    models = [
        {
            "model_name": name,
            "litellm_params": {"model": f"openai/{MODEL}", "api_base": base, "api_key": "sk-bench"},
        }
        for name, base in (("bench", up.base_url), ("bench-sse", up.sse_base_url))
    ]
    config = {
        "model_list": models,
        "litellm_settings": {"drop_params": True, "telemetry": False, "num_retries": 0},
    }
    (tmp / "litellm.json").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price map from the internet at start
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_MASTER_KEY": "sk-bench-master-key-not-a-secret-0123456789abcdef",
        "PYTHONPATH": "",
    }
    command = [str(exe), "--config", str(tmp / "litellm.json"), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--num_workers", "1"]
    log = tmp / "litellm.log"
    with _process(_pinned(command, cpus), cwd=tmp, env=env, log=log) as proc:
        base = f"http://127.0.0.1:{port}/v1/chat/completions"
        key = {"authorization": f"Bearer {env['LITELLM_MASTER_KEY']}"}
        target = Target("LiteLLM proxy", base, base, key, pid=proc.pid)
        target.stream_headers = dict(target.headers)
        _wait_answering(target, proc, log, within=180)
        yield target


def _ensure_portkey() -> Path:
    root = ENVS / "portkey"
    package = root / "node_modules" / "@portkey-ai" / "gateway"
    if not package.exists():
        if not shutil.which("npm"):
            raise Skip("npm is missing: install nodejs and npm (apt-get install -y nodejs npm)")
        print("installing @portkey-ai/gateway into benchmarks/.envs/portkey (once)...", flush=True)
        root.mkdir(parents=True, exist_ok=True)
        code = subprocess.call(["npm", "install", "--no-audit", "--no-fund", "@portkey-ai/gateway"], cwd=root)
        if code != 0 or not package.exists():
            raise Skip("could not install @portkey-ai/gateway with npm")
    manifest = json.loads((package / "package.json").read_text())
    bins = manifest.get("bin") or {}
    entry = next(iter(bins.values())) if isinstance(bins, dict) and bins else bins or manifest.get("main")
    if not entry:
        raise Skip(f"cannot find @portkey-ai/gateway's start script in {package / 'package.json'}")
    return package / str(entry)


@contextmanager
def portkey(up: Upstream, tmp: Path, cpus: set[int] | None, args: argparse.Namespace) -> Iterator[Target]:
    script = _ensure_portkey()
    port = free_port()
    log = tmp / "portkey.log"
    command = ["node", str(script), f"--port={port}", "--headless"]
    with _process(_pinned(command, cpus), cwd=tmp, env=dict(os.environ), log=log) as proc:
        base = f"http://127.0.0.1:{port}/v1/chat/completions"
        auth = {"authorization": "Bearer sk-bench", "x-portkey-provider": "openai"}
        target = Target(
            "Portkey gateway",
            base,
            base,
            {**auth, "x-portkey-custom-host": up.base_url},
            {**auth, "x-portkey-custom-host": up.sse_base_url},
            pid=proc.pid,
        )
        _wait_answering(target, proc, log, within=60)
        yield target


@contextmanager
def steadyhand_over_aiohttp(
    up: Upstream, tmp: Path, cpus: set[int] | None, args: argparse.Namespace
) -> Iterator[Target]:
    """`steadyhand serve` with its upstream transport set to aiohttp: the transport choice, measured."""
    with steadyhand_serve(up, tmp, cpus, args, transport="aiohttp") as target:
        yield target


@contextmanager
def steadyhand_over_httpx(
    up: Upstream, tmp: Path, cpus: set[int] | None, args: argparse.Namespace
) -> Iterator[Target]:
    """`steadyhand serve` with its upstream transport set to httpx: the transport choice, measured."""
    with steadyhand_serve(up, tmp, cpus, args, transport="httpx") as target:
        yield target


@contextmanager
def steadyhand_without_tracing(
    up: Upstream, tmp: Path, cpus: set[int] | None, args: argparse.Namespace
) -> Iterator[Target]:
    """`steadyhand serve --no-trace`: what tracing costs, side by side."""
    with steadyhand_serve(up, tmp, cpus, args, trace=False) as target:
        yield target


GATEWAYS = {
    "direct": direct,
    "steadyhand": steadyhand_serve,
    "steadyhand-aiohttp": steadyhand_over_aiohttp,
    "steadyhand-httpx": steadyhand_over_httpx,
    "steadyhand-notrace": steadyhand_without_tracing,
    "litellm": litellm,
    "portkey": portkey,
}


# -- load generators ------------------------------------------------------------------------------------


@dataclass
class Load:
    rps: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    load_avg: float
    non_2xx: int = 0
    """Of ``errors``, answers with a status other than 2xx (the rest are socket errors and timeouts)."""


def _wrk_script(tmp: Path, target: Target, name: str) -> Path:
    body = json.dumps({**BODY, "model": target.model})
    lines = [
        "wrk.method = 'POST'",
        f"wrk.body = {json.dumps(body)}",
        "wrk.headers['content-type'] = 'application/json'",
    ]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in target.headers.items()]
    path = tmp / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def _ms(text: str) -> float:
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
    for unit in ("us", "ms", "s", "m"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    raise ValueError(text)


def wrk(target: Target, connections: int, seconds: float, tmp: Path, cpus: set[int] | None) -> Load:
    script = _wrk_script(tmp, target, f"wrk-{connections}")
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(script),
        target.url,
    ]
    out = subprocess.run(_pinned(command, cpus), capture_output=True, text=True, check=True).stdout
    rps, requests, errors, non_2xx, pct = 0.0, 0, 0, 0, {}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif "requests in" in line:
            requests = int(parts[0])
        elif line.strip().startswith("Non-2xx"):
            non_2xx = int(parts[-1])
            errors += non_2xx
        elif line.strip().startswith("Socket errors"):
            errors += sum(int(p.strip(",")) for p in parts[3::2])
        elif len(parts) == 2 and parts[0] in ("50%", "99%"):
            pct[parts[0]] = _ms(parts[1])
    p50, p99 = pct.get("50%", float("nan")), pct.get("99%", float("nan"))
    return Load(rps, requests, errors, p50, p99, os.getloadavg()[0], non_2xx)


async def _aiohttp_load(target: Target, connections: int, seconds: float) -> Load:
    body = json.dumps({**BODY, "model": target.model}).encode()
    headers = {"content-type": "application/json", **target.headers}
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                start = time.perf_counter()
                async with session.post(target.url, data=body, headers=headers) as resp:
                    await resp.read()
                    errors += resp.status != 200
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        wall = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(int(q * len(latencies)), len(latencies) - 1)] * 1000  # noqa: E731
    count, load_avg = len(latencies), os.getloadavg()[0]
    return Load(count / wall, count, errors, pick(0.5), pick(0.99), load_avg, non_2xx=errors)


def load(
    target: Target, connections: int, seconds: float, tmp: Path, cpus: set[int] | None, use_wrk: bool
) -> Load:
    if use_wrk:
        return wrk(target, connections, seconds, tmp, cpus)
    return asyncio.run(_aiohttp_load(target, connections, seconds))


_CONTENT = re.compile(rb'"content":\s*"[^"]')
"""The first chunk carrying answer text (the role chunk before it has an empty content)."""


async def _streams(target: Target, count: int) -> tuple[float, float, int]:
    """(TTFT p50 ms, whole stream p50 ms, errors) over ``count`` sequential streams (1 connection)."""
    body = json.dumps({**BODY, "model": target.stream_model, "stream": True}).encode()
    headers = {"content-type": "application/json", **target.stream_headers}
    ttfts, wholes, errors = [], [], 0
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            start = time.perf_counter()
            first = None
            async with session.post(target.stream_url, data=body, headers=headers) as resp:
                seen = b""
                async for data in resp.content.iter_any():
                    if first is None and _CONTENT.search(seen + data):
                        first = time.perf_counter()
                    seen = data[-64:]
                ok = resp.status == 200 and seen.rstrip().endswith(b"[DONE]")
            if not ok or first is None:  # a failed stream has no TTFT to count
                errors += 1
                continue
            wholes.append(time.perf_counter() - start)
            ttfts.append(first - start)
    if not ttfts:
        return float("nan"), float("nan"), errors
    return statistics.median(ttfts) * 1000, statistics.median(wholes) * 1000, errors


RSS_MB, RSS_DRIFT = 120.0, 0.10
"""The soak's targets (issue 15): RSS at most 120 MB, and flat within 10% after the first 30 s."""


def _soak(target: Target, seconds: float, tmp: Path, cpus: set[int] | None, use_wrk: bool) -> dict[str, Any]:
    assert target.pid is not None
    samples = [rss_mb(target.pid)]
    step = min(30.0, seconds)
    end = time.monotonic() + seconds
    requests = errors = non_2xx = 0
    while time.monotonic() < end:
        done = load(target, 64, step, tmp, cpus, use_wrk)
        requests, errors, non_2xx = requests + done.requests, errors + done.errors, non_2xx + done.non_2xx
        samples.append(rss_mb(target.pid))
    drift = (samples[-1] - samples[1]) / samples[1] if len(samples) > 2 else 0.0
    held = max(samples) <= RSS_MB and abs(drift) <= RSS_DRIFT
    return {"seconds": seconds, "rss_mb": samples, "drift_after_warmup": drift, "requests": requests,
            "errors": errors, "non_2xx": non_2xx, "start_mb": samples[0], "end_mb": samples[-1],
            "max_mb": max(samples), "held": held}  # fmt: skip


def _own_figures(target: Target, tmp: Path, cpus: set[int] | None, use_wrk: bool) -> dict[str, Any]:
    """What `steadyhand serve` says of itself (x-steadyhand-overhead-ms) and its HTTP core alone."""
    import urllib.request

    body = json.dumps({**BODY, "model": target.model}).encode()
    reported = []
    for _ in range(200):
        request = urllib.request.Request(target.url, data=body, headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            resp.read()
            reported.append(float(resp.headers["x-steadyhand-overhead-ms"]))
    reported.sort()
    figures: dict[str, Any] = {"overhead_p50_ms": reported[100], "overhead_p99_ms": reported[197]}
    if use_wrk:
        script = tmp / "healthz.lua"
        script.write_text("wrk.method = 'GET'\n")
        health = target.url.rsplit("/v1/", 1)[0] + "/healthz"
        command = ["wrk", "-t1", "-c32", "-d5s", "-s", str(script), health]
        out = subprocess.run(_pinned(command, cpus), capture_output=True, text=True, check=True).stdout
        found = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
        figures["healthz_rps_c32"] = float(found.group(1)) if found else float("nan")
    return figures


# -- the run --------------------------------------------------------------------------------------------


def _cores() -> tuple[set[int] | None, set[int] | None]:
    """(the gateway's core, the load generator's and upstream's core)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return {cores[0]}, {cores[1]}


def _ensure_wrk() -> bool:
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0:
        print("wrk is missing: installing Debian's package (apt-get install -y wrk)", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.call(["apt-get", "install", "-y", "-q", "wrk"], env=env) == 0 and shutil.which("wrk"):
            return True
    print("wrk is not available: using the aiohttp load generator (it tops out lower than wrk)", flush=True)
    return False


def measure(
    target: Target, args: argparse.Namespace, tmp: Path, cpus: set[int] | None, use_wrk: bool
) -> dict[str, Any]:
    result: dict[str, Any] = {"name": target.name}
    cpu0 = None if target.pid is None else cpu_seconds(target.pid)
    requests = 0
    one = load(target, 1, args.seconds, tmp, cpus, use_wrk)
    result["c1"] = one
    requests += one.requests
    for n in CONNECTIONS:
        result[f"c{n}"] = load(target, n, args.seconds, tmp, cpus, use_wrk)
        requests += result[f"c{n}"].requests
    if target.pid is not None and cpu0 is not None:
        result["drain_s"] = settle(target.pid)
        result["cpu_ms_per_request"] = (cpu_seconds(target.pid) - cpu0) / max(requests, 1) * 1000
        result["rss_mb"] = rss_mb(target.pid)
    result["stream"] = asyncio.run(_streams(target, args.streams))
    if target.name.startswith("steadyhand serve"):
        result["own"] = _own_figures(target, tmp, cpus, use_wrk)
    if args.soak and target.pid is not None:
        result["soak"] = _soak(target, args.soak, tmp, cpus, use_wrk)
    print(f"measured {target.name} (load {os.getloadavg()[0]:.2f})", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per load level")
    parser.add_argument("--streams", type=int, default=200, help="sequential streams for TTFT")
    parser.add_argument("--tokens", type=int, default=200, help="content chunks in the upstream's stream")
    parser.add_argument("--only", nargs="+", choices=sorted(GATEWAYS), help="just these (direct always runs)")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of 64-connection load, RSS sampled")
    parser.add_argument(
        "--steadyhand-src", help="a src/ directory whose steadyhand to serve (default: installed)"
    )
    args = parser.parse_args()
    gateway_cpus, load_cpus = _cores()
    if load_cpus:
        os.sched_setaffinity(0, load_cpus)  # this process drives the streams: on the load generator's core
    use_wrk = _ensure_wrk()
    default = [n for n in GATEWAYS if n not in ("direct", "steadyhand-httpx")]
    names = ["direct", *[n for n in GATEWAYS if n != "direct" and n in (args.only or default)]]
    results: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    with nginx_upstream(tokens=args.tokens, cpus=load_cpus) as up, tempfile.TemporaryDirectory() as tmpdir:
        for name in names:
            tmp = Path(tmpdir) / name
            tmp.mkdir()
            try:
                with ExitStack() as stack:
                    target = stack.enter_context(GATEWAYS[name](up, tmp, gateway_cpus, args))
                    results.append(measure(target, args, tmp, load_cpus, use_wrk))
            except Skip as exc:
                skipped[name] = str(exc)
                print(f"skipped {name}: {exc}", flush=True)
    _report(results, skipped, args, use_wrk, gateway_cpus, load_cpus)


def _report(
    results: list[dict[str, Any]],
    skipped: dict[str, str],
    args: argparse.Namespace,
    use_wrk: bool,
    gateway_cpus: set[int] | None,
    load_cpus: set[int] | None,
) -> None:
    base = results[0]
    rows = []
    for r in results:
        c1: Load = r["c1"]
        best = max(r[f"c{n}"].rps for n in CONNECTIONS)
        ttft, whole, stream_errors = r["stream"]
        errors = c1.errors + sum(r[f"c{n}"].errors for n in CONNECTIONS)
        rows.append(
            [
                r["name"],
                c1.p50_ms - base["c1"].p50_ms,
                c1.p99_ms - base["c1"].p99_ms,
                *[round(r[f"c{n}"].rps) for n in CONNECTIONS],
                r["c64"].rps / best if best else 0.0,
                ttft - base["stream"][0],
                whole - base["stream"][1],
                r.get("cpu_ms_per_request", float("nan")),
                r.get("drain_s", float("nan")),
                r.get("rss_mb", float("nan")),
                errors,
                f"{stream_errors}/{args.streams}",
                max(c1.load_avg, *(r[f"c{n}"].load_avg for n in CONNECTIONS)),
            ]
        )
    columns = ["target", "added p50 ms", "added p99 ms", *[f"req/s c={n}" for n in CONNECTIONS], "c64/best"]
    columns += ["TTFT added ms", "stream added ms", "CPU ms/req", "drain s", "RSS MB", "errors"]
    columns += ["failed streams", "load avg (max)"]
    report(
        "bench_gateway_compare",
        f"Gateways in front of nginx (gateway on cores {sorted(gateway_cpus or [])}, load generator "
        f"{'wrk' if use_wrk else 'aiohttp'} + nginx on {sorted(load_cpus or [])}; "
        f"{args.seconds:g} s per level; "
        f"direct c=1 p50 {base['c1'].p50_ms:.3f} ms, p99 {base['c1'].p99_ms:.3f} ms)",
        columns,
        rows,
        skipped=skipped,
        raw=[{k: (v.__dict__ if isinstance(v, Load) else v) for k, v in r.items()} for r in results],
        targets={
            "steadyhand serve": {
                "added_p50_ms": 0.5, "added_p99_ms": 1.0, "req_s_one_core": 2500, "c64_over_best": 0.9,
                "stream_added_ms": 1.0, "cpu_ms_per_request": 0.4, "rss_mb": 120, "rss_drift": 0.10,
            }
        },
    )  # fmt: skip
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    for r in results:
        if "own" in r:
            own = r["own"]
            health = own.get("healthz_rps_c32", float("nan"))
            print(
                f"{r['name']}: x-steadyhand-overhead-ms p50 {own['overhead_p50_ms']:.3f}, "
                f"p99 {own['overhead_p99_ms']:.3f}; /healthz alone {health:,.0f} req/s at c=32"
            )
    for r in results:
        if "soak" in r:
            soak = r["soak"]
            verdict = "held" if soak["held"] else "MISSED"
            print(
                f"{r['name']} soak {soak['seconds']:.0f} s at c=64 ({soak['requests']:,} requests, "
                f"{soak['errors']} errors, {soak['non_2xx']} of them non-2xx): RSS start "
                f"{soak['start_mb']:.1f} MB, end {soak['end_mb']:.1f}, max {soak['max_mb']:.1f}; "
                f"drift after the first 30 s {soak['drift_after_warmup']:+.1%} "
                f"-> {verdict} (target <= {RSS_MB:.0f} MB, flat within {RSS_DRIFT:.0%})"
            )
            print(f"  samples every 30 s (MB): {' '.join(f'{v:.1f}' for v in soak['rss_mb'])}")


if __name__ == "__main__":
    main()
