"""``steadyhand sim`` as a user runs it: invalid ports are refused in one line, the request log is off
unless asked for (memory stays flat under load), and ``--record N`` keeps the last N."""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from steadyhand.cli import app
from steadyhand.cli import sim as sim_cli
from steadyhand.sim import SimServer

from .sim_process import rss_bytes, sim_command, sim_process


@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_invalid_port_is_one_line_and_exit_2(port: str) -> None:
    result = subprocess.run(sim_command("--port", port), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "out of range" in lines[0] and port in lines[0], result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stdout


class _FakeServer:
    seen: dict[str, Any] = {}

    def __init__(self, scenario: Any, **options: Any) -> None:
        _FakeServer.seen = options
        self.base_url = "http://127.0.0.1:1"

    def start(self) -> None:
        pass

    def serve_forever(self) -> None:
        pass

    def stop(self) -> None:
        pass


def test_record_is_off_by_default_and_bounded_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim_cli, "SimServer", _FakeServer)
    assert CliRunner().invoke(app, ["sim", "--port", "0"]).exit_code == 0
    assert _FakeServer.seen["record_limit"] == 0
    assert CliRunner().invoke(app, ["sim", "--port", "0", "--record", "50"]).exit_code == 0
    assert _FakeServer.seen["record_limit"] == 50


def test_record_limit_keeps_the_latest_or_nothing() -> None:
    body: Any = {"model": "sim-basic", "messages": [{"role": "user", "content": "hi"}]}
    for limit, kept in ((0, []), (2, ["m3", "m4"])):
        with SimServer(record_limit=limit) as sim, httpx.Client() as client:
            for name in ("m1", "m2", "m3", "m4"):
                client.post(f"{sim.base_url}/v1/chat/completions", json={**body, "model": name})
            assert [r.model for r in sim.requests] == kept


def test_cli_memory_stays_flat_under_load() -> None:
    """800 requests of 60 KB each: a log of their bodies alone would hold ~48 MB."""
    filler = "lorem ipsum " * 5000
    body: Any = {"model": "sim-basic", "messages": [{"role": "user", "content": filler}]}
    with sim_process() as (process, base), httpx.Client(timeout=60) as client:

        def drive(count: int, offset: int) -> None:
            for i in range(count):
                client.post(f"{base}/v1/chat/completions", json={**body, "model": f"sim-basic:{offset + i}"})

        drive(200, 0)  # warm up allocator pools and caches
        before = rss_bytes(process.pid)
        drive(800, 200)
        grown = rss_bytes(process.pid) - before
    assert grown < 20 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 800 requests"
