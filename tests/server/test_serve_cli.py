"""``steadyhand serve`` as a user runs it: the banner, graceful SIGTERM, SIGHUP reload, the auth guard,
and the black-box contract checker (``../shared/checks/sim_contract.py``) holding against the gateway."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import _contract
from steadyhand.server import GatewayServer
from steadyhand.sim import SimServer

from .serve_process import serve_command, serve_env, serve_process

CHECKER = _contract.REPO / ".." / "shared" / "checks" / "sim_contract.py"


def _toml(sim: SimServer, extra: str = "") -> str:
    return (
        f'[providers.sim]\nkind = "sim"\nbase_url = "{sim.base_url}"\n\n'
        f'[models]\nfast = "sim:sim-basic"\nslow = "sim:sim-slow-first-token"\n{extra}'
    )


def test_the_contract_checker_holds_against_the_gateway(gateway: GatewayServer) -> None:
    result = subprocess.run(
        [sys.executable, str(CHECKER), gateway.base_url, "fast"], capture_output=True, text=True, timeout=120
    )
    assert "contract ok: 8 of 8 groups hold" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0


def test_banner_and_graceful_sigterm_finishes_in_flight_requests(sim: SimServer, tmp_path: Path) -> None:
    (tmp_path / "steadyhand.toml").write_text(_toml(sim))
    with serve_process("--config", str(tmp_path / "steadyhand.toml"), "--no-trace") as (proc, base):
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(4)]
        assert banner[0].startswith("  OpenAI base URL:    " + base + "/v1")
        assert "loopback only" in banner[2]
        got: dict[str, Any] = {}

        def slow_call() -> None:
            body = {"model": "slow", "messages": [{"role": "user", "content": "hi"}]}
            got["r"] = httpx.post(base + "/v1/chat/completions", json=body, timeout=30)

        worker = threading.Thread(target=slow_call)
        worker.start()
        time.sleep(0.7)  # the request is in flight: the simulator waits 2 s before its first token
        proc.send_signal(signal.SIGTERM)
        worker.join(30)
        assert got["r"].status_code == 200 and got["r"].json()["choices"][0]["message"]["content"]
        assert proc.wait(30) == 0
        assert "stopped" in proc.stdout.read()


def test_sighup_reloads_and_a_bad_config_keeps_the_old(sim: SimServer, tmp_path: Path) -> None:
    config = tmp_path / "steadyhand.toml"
    config.write_text(_toml(sim))
    with serve_process("--config", str(config), "--no-trace") as (proc, base):
        before = httpx.get(base + "/healthz").json()["config_hash"]
        config.write_text(_toml(sim, 'echo = "sim:sim-echo"\n'))
        proc.send_signal(signal.SIGHUP)
        after = _wait_for_hash_change(base, before)
        body = {"model": "echo", "messages": [{"role": "user", "content": "reloaded"}]}
        assert (
            httpx.post(base + "/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
            == "reloaded"
        )
        config.write_text("[models]\nbroken = 'nowhere:x'\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert httpx.get(base + "/healthz").json()["config_hash"] == after
        assert httpx.post(base + "/v1/chat/completions", json=body).status_code == 200


def _wait_for_hash_change(base: str, before: str) -> str:
    for _ in range(100):
        now: str = httpx.get(base + "/healthz").json()["config_hash"]
        if now != before:
            return now
        time.sleep(0.05)
    raise AssertionError("the configuration was not reloaded")


def test_no_keys_refuses_a_non_loopback_host_unless_no_auth(tmp_path: Path) -> None:
    result = subprocess.run(
        serve_command("--host", "0.0.0.0", "--port", "0", "--no-trace"),
        capture_output=True, text=True, timeout=60, env=serve_env(), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no API keys are configured" in result.stderr and "--no-auth" in result.stderr
    assert "listening" not in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"), [(["--port", "70000"], "out of range"), (["--workers", "0"], "--workers")]
)
def test_bad_options_are_one_line(args: list[str], fragment: str, tmp_path: Path) -> None:
    result = subprocess.run(
        serve_command(*args), capture_output=True, text=True, timeout=60, env=serve_env(), cwd=tmp_path
    )
    assert (
        result.returncode == 2 and fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1
    )


def test_workers_share_one_port(sim: SimServer, tmp_path: Path) -> None:
    (tmp_path / "steadyhand.toml").write_text(_toml(sim))
    with serve_process("--config", str(tmp_path / "steadyhand.toml"), "--no-trace", "--workers", "2") as (
        proc,
        base,
    ):
        body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
        with httpx.Client() as client:
            for _ in range(4):
                assert client.post(base + "/v1/chat/completions", json=body).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_served_calls_are_traced_with_project_key_and_config_hash(sim: SimServer, tmp_path: Path) -> None:
    """With keys in the store, auth is on; after SIGTERM the tracer has flushed every span."""
    from steadyhand.server.keys import new_key
    from steadyhand.store import open_store

    url = f"sqlite:///{tmp_path / 'traces.db'}"
    key, row = new_key("support")
    with open_store(url) as store:
        store.create_key(row)
    (tmp_path / "steadyhand.toml").write_text(_toml(sim))
    env = serve_env(STEADYHAND_DATABASE_URL=url)
    with serve_process("--config", str(tmp_path / "steadyhand.toml"), env=env) as (proc, base):
        assert proc.stdout is not None
        banner = "".join(proc.stdout.readline() for _ in range(4))
        assert "auth: on: 1 active key(s)" in banner and "tracing: on" in banner
        body = {"model": "fast", "messages": [{"role": "user", "content": "trace me"}]}
        assert httpx.post(base + "/v1/chat/completions", json=body).status_code == 401
        r = httpx.post(base + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    with open_store(url) as store:
        detail = store.get_trace(r.headers["x-steadyhand-trace-id"])
    assert detail is not None and detail.trace.project == "support"
    spans = detail.spans
    assert {s.kind for s in spans} >= {"llm", "custom"}
    for span in spans:
        assert span.project == "support" and key not in span.model_dump_json()
        assert span.tags.get("gateway.key_id") == row.id
        assert span.tags.get("gateway.config_hash") == r.headers["x-steadyhand-config-hash"]


def test_serving_freezes_start_up_objects_and_shortens_the_gil_switch_interval() -> None:
    """A request must not wait 5 ms (Python's default switch interval) for the GIL behind the tracer's
    writer thread, nor behind a full collection walking every imported module."""
    import gc

    from steadyhand.cli.serve import SWITCH_INTERVAL, tune_for_serving

    before = sys.getswitchinterval()
    try:
        tune_for_serving()
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL) and SWITCH_INTERVAL <= 0.0005
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        sys.setswitchinterval(before)
