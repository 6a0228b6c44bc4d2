"""A ``steadyhand`` CLI server (``sim``, ``serve``) in a subprocess on a free loopback port: for tests
that need it on its own interpreter (its GIL apart from the test's clients) or that signal it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import steadyhand

SRC = Path(steadyhand.__file__).resolve().parents[1]
"""The source tree this test run imports, so the subprocess runs the same code."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_command(command: str, *args: str) -> list[str]:
    return [sys.executable, "-u", "-c", "from steadyhand.cli import main; main()", command, *args]


def cli_env(extra: dict[str, str] | None = None, *, measured: bool = True) -> dict[str, str]:
    """This interpreter's environment with :data:`SRC` first on ``PYTHONPATH``.

    ``measured=False`` keeps coverage out of the child: its tracing slows CPU-heavy work several
    times over, which a test of how promptly a server answers must not measure.
    """
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        **(extra or {}),
    }
    if not measured:
        env.pop("COVERAGE_PROCESS_CONFIG", None)
    return env


@contextmanager
def cli_process(
    command: str, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``steadyhand COMMAND --port P ARGS``, wait for its banner, yield (process, base URL);
    always stopped (SIGTERM, then SIGKILL after 15 s) and reaped."""
    port = free_port()
    process = subprocess.Popen(
        cli_command(command, "--port", str(port), *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env or cli_env(),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on" in line, line + process.stdout.read()
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
