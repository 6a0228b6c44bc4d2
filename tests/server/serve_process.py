"""``steadyhand serve`` in a subprocess on a free loopback port, for tests that signal it."""

from __future__ import annotations

import subprocess
from contextlib import AbstractContextManager

from cli_process import cli_command, cli_env, cli_process, free_port

__all__ = ["free_port", "serve_command", "serve_env", "serve_process"]


def serve_command(*args: str) -> list[str]:
    return cli_command("serve", *args)


def serve_env(**extra: str) -> dict[str, str]:
    return cli_env(extra)


def serve_process(
    *args: str, env: dict[str, str] | None = None
) -> AbstractContextManager[tuple[subprocess.Popen[str], str]]:
    """Start the gateway, wait for its banner, yield (process, base URL); always stopped."""
    return cli_process("serve", *args, env=env)
