"""``steadyhand serve``: the OpenAI- and Anthropic-compatible gateway in the foreground.

Prints its base URL, serves until Ctrl-C or SIGTERM (requests in flight finish, the tracer
flushes), reloads its configuration on SIGHUP. ``--workers N`` runs N processes sharing the port
(``SO_REUSEPORT``); each is a complete gateway. With no API keys in the store the gateway listens on
loopback only unless ``--no-auth`` says otherwise.
"""

from __future__ import annotations

import gc
import ipaddress
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from .._config import Config
from ..errors import ConfigurationError, StoreError

SWITCH_INTERVAL = 0.00025
"""Seconds a thread holding the GIL keeps it while the event loop's thread waits (``setswitchinterval``)."""
TRACE_QUEUE = 2048
"""Spans the gateway's tracer holds in memory while its writer catches up; the rest wait in the spool
only (on disk, written in order). The Tracer's default, 10,000, suits an app; a gateway runs for
weeks at thousands of spans a second, and a burst that filled 10,000 (~2 KB each) raised its RSS by
~20 MB for good (benchmarks/bench_gateway_compare.py --soak 600: 94 -> 116 MB; the queue's high-water
mark stays allocated). 2,048 bounds that at ~4 MB."""
WORKER_ENV = "STEADYHAND_SERVE_WORKER"
"""Set on the processes ``--workers N`` starts: bind with ``SO_REUSEPORT`` and print one ready line."""


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""
    app.command("serve")(serve)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    config: Path | None = typer.Option(None, help="steadyhand.toml to serve (default: ./steadyhand.toml)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8787, help="Port to listen on, 1 to 65535 (0 picks a free one)."),
    workers: int = typer.Option(1, help="Processes sharing the port (one core each)."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve without API keys on a non-loopback host."),
    max_body_bytes: int = typer.Option(4 * 1024 * 1024, help="Larger request bodies get a 413."),
    read_timeout: float = typer.Option(30.0, help="Seconds to receive a whole request before a 408."),
    idle_timeout: float = typer.Option(75.0, help="Seconds an idle kept-alive connection stays open."),
    trace: bool = typer.Option(True, "--trace/--no-trace", help="Record every call to the trace store."),
) -> None:
    """Serve the gateway: point any OpenAI or Anthropic client at the printed base URL."""
    if not 0 <= port <= 65535:
        _fail(f"port {port} is out of range: use 1 to 65535, or 0 for a free port")
    if workers < 1:
        _fail(f"--workers must be 1 or more, not {workers}")
    if max_body_bytes < 1 or read_timeout <= 0 or idle_timeout <= 0:
        _fail("--max-body-bytes, --read-timeout and --idle-timeout must be positive")
    try:
        loaded = Config.load(config)
    except ConfigurationError as exc:
        _fail(str(exc))
    if workers > 1 and os.environ.get(WORKER_ENV) is None:
        _supervise(workers, host, port)
        return
    _serve_one(loaded, config, host, port, no_auth=no_auth, trace=trace,
               limits={"max_body_bytes": max_body_bytes, "read_timeout": read_timeout,
                       "idle_timeout": idle_timeout})  # fmt: skip


def _fail(message: str) -> Any:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _serve_one(
    config: Config,
    path: Path | None,
    host: str,
    port: int,
    *,
    no_auth: bool,
    trace: bool,
    limits: dict[str, Any],
) -> None:
    try:
        import prometheus_client  # noqa: F401 - the gateway's /metrics
    except ImportError:
        _fail("the gateway needs the server extra: pip install 'steadyhand[server]'")
    from ..server import Gateway, GatewayOptions, GatewayServer
    from ..server.keys import auth_for

    try:
        auth, admission, keys_note = auth_for(config, no_auth=no_auth)
    except StoreError as exc:
        _fail(f"the key store cannot be read: {exc}")
    if not keys_note.keys and not no_auth and not _loopback(host):
        _fail(
            f"no API keys are configured, so the gateway will not listen on {host} (reachable from other "
            "machines) without auth: create a key with `steadyhand keys create --project NAME`, listen on "
            "127.0.0.1, or pass --no-auth to serve anyone who can reach it"
        )
    tracer = configs = None
    if trace:
        from ..store import open_store
        from ..tracing import tracer_from_config

        try:
            tracer = tracer_from_config(config, max_queue=TRACE_QUEUE)
            configs = open_store(config.database_url)  # the served configurations, next to the traces
        except (ConfigurationError, StoreError) as exc:
            _fail(f"tracing cannot start: {exc} (fix database_url, or pass --no-trace)")
    options = GatewayOptions(admin_key=os.environ.get("STEADYHAND_ADMIN_KEY") or None, **limits)
    gateway = Gateway(
        config, options=options, tracer=tracer, auth=auth, admission=admission,
        reload=lambda: Config.load(path), configs=configs,
    )  # fmt: skip
    sock = None
    if os.environ.get(WORKER_ENV) is not None:
        sock = _reuse_port_socket(host, port)
    server = GatewayServer(gateway, host=host, port=port, sock=sock)
    worker = os.environ.get(WORKER_ENV) is not None

    def ready(s: GatewayServer) -> None:
        tune_for_serving()
        if worker:
            typer.echo(f"worker {os.getpid()} ready on {s.base_url}")
            return
        typer.echo(f"steadyhand serve listening on {s.base_url}")
        typer.echo(f"  OpenAI base URL:    {s.base_url}/v1")
        typer.echo(f"  Anthropic base URL: {s.base_url}")
        typer.echo(f"  auth: {keys_note.describe(no_auth)}")
        typer.echo(f"  config: {gateway.state.hash}  tracing: {'on' if tracer is not None else 'off'}")

    try:
        server.serve_forever(on_ready=ready)
    except OSError as exc:
        _fail(str(exc))
    finally:
        if tracer is not None:
            tracer.close()
        if configs is not None:
            configs.close()
    if server._error is not None:
        _fail(f"cannot listen on {host}:{port}: {server._error}")
    if not worker:
        typer.echo("stopped")


def tune_for_serving() -> None:
    """Settings for a process that only serves, applied once it is listening (the tails they cut)."""
    # Everything loaded so far (modules, the config, the store's metadata) lives until exit: out of the
    # collector's sight, a full collection walks only what serving allocates (one took ~150 ms).
    gc.freeze()
    # The tracer's writer thread runs Python (store batches) while requests wait: a request arriving
    # then waits for the GIL until the writer blocks or the switch interval passes (5 ms by default:
    # the 1-connection p99 was ~6 ms). 0.25 ms bounds that wait; the extra hand-overs cost ~nothing.
    sys.setswitchinterval(SWITCH_INTERVAL)


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


def _supervise(workers: int, host: str, port: int) -> None:
    """Start ``workers`` copies of this command sharing one port; forward SIGTERM/SIGINT/SIGHUP."""
    try:
        holder = _reuse_port_socket(host, port)  # fixes the port (0: a free one) for every worker
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc}")
    chosen = holder.getsockname()[1]
    args = list(sys.argv[1:])
    args = _with_port(args, chosen)
    env = {**os.environ, WORKER_ENV: "1"}
    command = [sys.executable, "-c", "from steadyhand.cli import main; main()", *args]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "ready" not in line:
            for other in procs:
                other.terminate()
            _fail(f"a worker did not start: {line.strip() or 'it exited'}")
    holder.close()
    base = f"http://{'[' + host + ']' if ':' in host else host}:{chosen}"
    typer.echo(f"steadyhand serve listening on {base} ({workers} workers)")
    typer.echo(f"  OpenAI base URL:    {base}/v1")
    typer.echo(f"  Anthropic base URL: {base}")

    def forward(signum: int, frame: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGHUP, forward)
    for proc in procs:
        proc.wait()
    typer.echo("stopped")


def _with_port(args: list[str], port: int) -> list[str]:
    out: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == "--port":
            skip = i + 1 < len(args)
            continue
        if arg.startswith("--port="):
            continue
        out.append(arg)
    return [*out, "--port", str(port)]
