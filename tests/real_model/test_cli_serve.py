"""``steadyhand local serve`` runs the real server, prints a working config, and stops on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.real_model


def test_serve_prints_a_working_base_url_and_stops_on_ctrl_c() -> None:
    command = [
        sys.executable,
        "-c",
        "from steadyhand.cli import main; main()",
        "local",
        "serve",
        "--port",
        "0",
    ]
    lines: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as process:
        _serve_and_stop(process, lines)


def _serve_and_stop(process: subprocess.Popen[str], lines: list[str]) -> None:
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C to stop" in line:
                break
        output = "".join(lines)
        match = re.search(r'base_url = "(http://127\.0\.0\.1:\d+/v1)"', output)
        assert match, output
        # the profile, with the chat template's prompt overhead the server measured at start
        assert re.search(r'capabilities = \{ profile = "llama_cpp", prompt_overhead = [1-9]\d* \}', output), (
            output
        )
        base_url = match.group(1)
        assert httpx.get(f"{base_url}/models").status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base_url}/models")
    finally:
        # The whole group: when the CLI is killed, its llama.cpp server must not outlive the test (a
        # failed run once left one serving for over an hour).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
