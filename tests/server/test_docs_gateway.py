"""Every example in docs/gateway.md runs: the TOML configures a live gateway in front of the simulator,
the Python blocks (OpenAI and Anthropic SDKs) and the curl block run against it and print what their
``#>`` lines say, the key commands run, and the banner is what ``steadyhand serve`` prints."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _docs import DOCS, check_output, examples, run_example
from steadyhand import Config
from steadyhand.server import Gateway, GatewayServer
from steadyhand.server.configs import document_hash
from steadyhand.sim import SimServer

from .serve_process import serve_command, serve_env, serve_process

DOC = DOCS / "gateway.md"
URL = "http://127.0.0.1:8787"
SIM_URL = "http://127.0.0.1:8900"


def _toml(sim: SimServer) -> str:
    [block] = examples(DOC, "toml")
    return block.code.replace(SIM_URL, sim.base_url)


@pytest.fixture(scope="module")
def doc_gateway(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    path = tmp_path_factory.mktemp("gwdoc") / "steadyhand.toml"
    path.write_text(_toml(sim))
    with GatewayServer(Gateway(Config.load(path))) as server:
        yield server


def test_python_examples_run_in_order(doc_gateway: GatewayServer) -> None:
    blocks = examples(DOC)
    assert len(blocks) >= 5
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    for block in blocks:
        run_example(block, namespace, replace={URL: doc_gateway.base_url})
    for name in ("client", "claude"):
        namespace[name].close()


def test_curl_example(doc_gateway: GatewayServer) -> None:
    [block] = [b for b in examples(DOC, "bash") if "curl" in b.code]
    script = block.code.replace(URL, doc_gateway.base_url)
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    check_output(block, result.stdout)


def test_key_commands(tmp_path: Path) -> None:
    [block] = [b for b in examples(DOC, "bash") if "keys create" in b.code]
    env = serve_env(STEADYHAND_DATABASE_URL=f"sqlite:///{tmp_path / 'doc.db'}")
    cli = serve_command()[:-1]
    key_id = None
    for line in block.code.strip().splitlines():
        args = line.split()[1:]
        if key_id is not None:
            args = [key_id if a == "KEY_ID" else a for a in args]
        result = subprocess.run(
            [*cli, *args], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
        )
        assert result.returncode == 0, (line, result.stderr)
        if args[:2] == ["keys", "create"]:
            key = result.stdout.strip()
            key_id = "key_" + key.removeprefix("sk-sh-").split("-")[0]
        if args[:2] == ["keys", "list"]:
            assert "support" in result.stdout and "$5/month" in result.stdout and "fast,echo" in result.stdout


def test_config_commands_show_what_served_a_call(sim: SimServer, tmp_path: Path) -> None:
    """`steadyhand serve` stores its configuration at start; `traces show` names it, `configs` prints it."""
    import httpx

    [block] = [b for b in examples(DOC, "bash") if "configs show" in b.code]
    (tmp_path / "steadyhand.toml").write_text(_toml(sim))
    env = serve_env(STEADYHAND_DATABASE_URL=f"sqlite:///{tmp_path / 'traces.db'}")
    with serve_process("--config", str(tmp_path / "steadyhand.toml"), env=env) as (proc, base):
        body = {"model": "echo", "messages": [{"role": "user", "content": "which config?"}]}
        r = httpx.post(base + "/v1/chat/completions", json=body, timeout=30)
        proc.send_signal(signal.SIGTERM)  # the tracer flushes on the way out
        assert proc.wait(30) == 0
    trace_id, config_hash = r.headers["x-steadyhand-trace-id"], r.headers["x-steadyhand-config-hash"]
    printed = []
    for line in block.code.strip().splitlines():
        args = [{"TRACE_ID": trace_id, "CONFIG_HASH": config_hash}.get(a, a) for a in line.split()[1:]]
        result = subprocess.run(
            [*serve_command()[:-1], *args], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
        )
        assert result.returncode == 0, (line, result.stderr)
        printed.append(result.stdout)
    shown, listed, document = printed
    assert f"ok project default config {config_hash}" in " ".join(shown.split())
    assert config_hash in listed and "echo, fast" in listed
    stored = json.loads(document)
    assert document_hash(stored) == config_hash and stored["models"]["echo"]["target"] == "sim:sim-echo"


def test_banner_is_what_serve_prints(sim: SimServer, tmp_path: Path) -> None:
    [block] = [b for b in examples(DOC, "text") if "steadyhand serve" in b.code]
    command, *expected = block.code.strip().splitlines()
    assert command == "$ steadyhand serve --port 8787"
    (tmp_path / "steadyhand.toml").write_text(_toml(sim))
    port = _free_port()
    env = serve_env(STEADYHAND_DATABASE_URL=f"sqlite:///{tmp_path / 'traces.db'}")
    proc = subprocess.Popen(
        serve_command("--port", str(port)), stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in expected]
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
    for want, got in zip(expected, lines, strict=True):
        pattern = ".*?".join(re.escape(p) for p in want.replace("8787", str(port)).split("..."))
        assert re.fullmatch(pattern, got), (want, got)
    assert os.path.exists(tmp_path / "traces.db")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
