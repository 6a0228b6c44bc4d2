"""``steadyhand sim`` in a subprocess on a free loopback port, for tests that need it on its own
interpreter (its GIL apart from the test's clients) or that signal it."""

from __future__ import annotations

import subprocess
from contextlib import AbstractContextManager
from pathlib import Path

from cli_process import cli_command, cli_env, cli_process

__all__ = ["rss_bytes", "sim_command", "sim_process"]


def sim_command(*args: str) -> list[str]:
    return cli_command("sim", *args)


def sim_process(
    *args: str, measured: bool = True
) -> AbstractContextManager[tuple[subprocess.Popen[str], str]]:
    """Start the CLI simulator, wait for its banner, yield (process, base URL); always reaped.

    ``measured=False`` keeps coverage out of the child (see :func:`cli_process.cli_env`).
    """
    return cli_process("sim", *args, env=cli_env(measured=measured))


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")
