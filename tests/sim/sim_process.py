"""``steadyhand sim`` in a subprocess on a free loopback port, for tests that need it on its own
interpreter (its GIL apart from the test's clients) or that signal it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import steadyhand

SRC = Path(steadyhand.__file__).resolve().parents[1]
"""The source tree this test run imports, so the subprocess runs the same code."""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sim_command(*args: str) -> list[str]:
    return [sys.executable, "-u", "-c", "from steadyhand.cli import main; main()", "sim", *args]


@contextmanager
def sim_process(*args: str, measured: bool = True) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start the CLI simulator, wait for its banner, yield (process, base URL); always reaped.

    ``measured=False`` keeps coverage out of the child: its tracing slows CPU-heavy work several
    times over, which a test of how promptly the simulator answers must not measure.
    """
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    if not measured:
        env.pop("COVERAGE_PROCESS_CONFIG", None)
    process = subprocess.Popen(
        sim_command("--port", str(port), *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
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


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")
