"""``steadyhand local serve`` / ``LocalModelServer``: a port held by another process is an error (exit 2)
that says so, before the start and when another process answers the readiness probe; extra server flags
pass through. No model needed: the llama.cpp child is replaced by a stand-in."""

from __future__ import annotations

import importlib
import os
import runpy
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from steadyhand.cli import app
from steadyhand.local import LocalModelServer, PortUnavailable, llama_launch
from steadyhand.local import server as server_module
from steadyhand.local.ports import port_in_use, port_owned_by


class _Models(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"object": "list", "data": [{"id": "someone-else"}]}'
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_server() -> Iterator[int]:
    """Another process's server (here: a thread of the test) holding a loopback port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def no_extra_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"")
    monkeypatch.setattr(server_module, "require_server_package", lambda: None)
    return model


def test_port_in_use_and_ownership(other_server: int) -> None:
    reason = port_in_use("127.0.0.1", other_server)
    assert reason is not None and f"port {other_server} on 127.0.0.1 is already in use" in reason
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    assert port_in_use("127.0.0.1", free) is None
    assert port_owned_by(os.getpid(), other_server) is True  # the test's own thread listens
    assert port_owned_by(os.getpid(), free) is False
    assert port_owned_by(os.getpid(), other_server, proc=Path("/nonexistent-proc")) is None


def test_a_held_port_fails_before_starting(other_server: int, no_extra_needed: Path) -> None:
    server = LocalModelServer(port=other_server, model_path=no_extra_needed)
    with pytest.raises(PortUnavailable, match="already in use by another process.*--port 0"):
        server.start()
    assert not server.running


def test_a_probe_answered_by_another_process_is_not_a_start(
    other_server: int, no_extra_needed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the pre-check cannot close: the port is taken between the check and the probe."""
    monkeypatch.setattr(server_module, "port_in_use", lambda host, port: None)
    stand_in = [sys.executable, "-c", "import time; time.sleep(60)"]  # never binds the port
    monkeypatch.setattr(LocalModelServer, "command", lambda self: stand_in)
    server = LocalModelServer(port=other_server, model_path=no_extra_needed, startup_timeout=20)
    with pytest.raises(PortUnavailable, match="another process answered on http://127.0.0.1:"):
        server.start()
    assert not server.running  # our child was stopped


def test_the_cli_exits_2_with_the_reason(
    other_server: int, no_extra_needed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "find_bundled_model", lambda: no_extra_needed)
    result = CliRunner().invoke(app, ["local", "serve", "--port", str(other_server)])
    assert result.exit_code == 2, result.output
    assert "already in use by another process" in result.output and "serving" not in result.output
    assert "Traceback" not in result.output


def test_the_command_queues_requests_and_passes_extra_flags(
    no_extra_needed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []

    def capture(self: LocalModelServer) -> LocalModelServer:
        seen.append(self.command())
        raise server_module.LocalServerError("stopped by the test")

    monkeypatch.setattr(LocalModelServer, "start", capture)
    monkeypatch.setattr(server_module, "find_bundled_model", lambda: no_extra_needed)
    result = CliRunner().invoke(
        app, ["local", "serve", "--port", "0", "--", "--n_ctx", "4096", "--verbose", "False"]
    )
    assert result.exit_code == 1 and "stopped by the test" in result.output
    [command] = seen
    joined = " ".join(command)
    assert (
        "--interrupt_requests False" in joined and f"--n_threads {server_module.available_cores()}" in joined
    )
    assert command[-4:] == ["--n_ctx", "4096", "--verbose", "False"]  # last, so they win over ours


def test_openmp_threads_sleep_while_waiting_unless_the_user_says_otherwise(
    monkeypatch: pytest.MonkeyPatch, no_extra_needed: Path
) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert LocalModelServer(model_path=no_extra_needed).environment()["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert LocalModelServer(model_path=no_extra_needed).environment()["OMP_WAIT_POLICY"] == "ACTIVE"


def test_n_batch_is_512_unless_asked_and_the_launcher_runs_the_server(no_extra_needed: Path) -> None:
    command = LocalModelServer(model_path=no_extra_needed).command()
    assert command[command.index("--n_batch") + 1] == "512"
    assert command[1:3] == ["-m", "steadyhand.local.llama_launch"]
    command = LocalModelServer(model_path=no_extra_needed, n_batch=1).command()
    assert command[command.index("--n_batch") + 1] == "1"


def test_the_launcher_turns_extra_weight_buffers_off_and_prefix_reuse_then_runs_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With extra buffers (AMX, repack) multi-token batches crashed; with prefix reuse seeds drifted."""
    native = importlib.import_module("llama_cpp.llama_cpp")  # the local extra: make test installs it
    llama = importlib.import_module("llama_cpp").Llama
    ran: list[str] = []
    cached_at_generate: list[int] = []

    def generate(self: Any, tokens: list[int], **options: Any) -> Iterator[int]:
        cached_at_generate.append(self.n_tokens)
        return iter(())

    monkeypatch.setattr(native, "llama_model_default_params", native.llama_model_default_params)
    monkeypatch.setattr(llama, "generate", generate)
    monkeypatch.setattr(runpy, "run_module", lambda name, **kw: ran.append(name))
    assert native.llama_model_default_params().use_extra_bufts is True  # llama.cpp's default
    llama_launch.main()
    assert ran == ["llama_cpp.server"]
    assert native.llama_model_default_params().use_extra_bufts is False

    class Model:  # Llama's own reset(), on a model with 5 tokens cached
        reset = llama.reset
        n_tokens, _requires_eval, _is_recurrent, _is_hybrid = 5, False, False, False

    llama.generate(Model(), [1, 2])
    assert cached_at_generate == [0]  # evaluated from the start
