"""Every process a test starts is reaped, however the test ends: the ``reap`` fixture."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

P = TypeVar("P", bound="subprocess.Popen[Any]")


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


class Reaper:
    """``reap(popen)`` returns the process, killed (if still running) and waited for at teardown;
    ``reap.pid(pid)`` does the same for a process that is not our child (a grandchild)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[Any]] = []
        self.pids: list[int] = []

    def __call__(self, proc: P) -> P:
        self.procs.append(proc)
        return proc

    def pid(self, pid: int) -> int:
        self.pids.append(pid)
        return pid

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for pid in self.pids:
            if running(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def reap() -> Iterator[Reaper]:
    reaper = Reaper()
    try:
        yield reaper
    finally:
        reaper.close()
