"""The app's side of ``writer="process"``: start the writer subprocess, ask it to flush, read its progress.

Nothing is queued in memory: ``record()`` only appends to the spool, and the child tails it. Commands go
down the child's stdin (non-blocking: a stuck child can never block the app); progress comes back
through the ``status`` file the child rewrites after each batch. See ``writer_process``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .spool import Pos, Spool
from .writer_process import Settings, read_status

__all__ = ["ProcessWriter", "store_url"]

_POLL_S = (0.001, 0.02)
"""First and longest pause between reads of the status file in ``flush()``."""


def store_url(store: object) -> str:
    """The database URL the child reopens: a URL string, or a ``Store``'s ``.url``."""
    url = store if isinstance(store, str) else getattr(store, "url", None)
    if not isinstance(url, str):
        raise ConfigurationError(
            "Tracer(writer='process') reopens the store in a subprocess: pass a database URL "
            "(e.g. 'sqlite:///traces.db') or a Store from steadyhand.store.open_store(url)"
        )
    if url.startswith("sqlite") and (url.rstrip("/").endswith(":memory:") or url.rstrip("/") == "sqlite:"):
        raise ConfigurationError(
            "an in-memory SQLite database cannot be shared with the writer process: use a file URL, "
            "or writer='thread'"
        )
    return url


class ProcessWriter:
    """One writer subprocess per Tracer, sharing the spool's lock; reaped by ``stop()``."""

    def __init__(
        self, *, url: str, spool: Spool, root: Path, batch_size: int, interval: float, drain_seconds: float
    ) -> None:
        self._spool_path = spool.path
        settings = Settings(
            url=url,
            spool=str(spool.path.resolve()),
            root=str(root.resolve()),
            lock_fd=spool.lock_fd,
            parent=os.getpid(),
            batch_size=batch_size,
            interval=interval,
            drain_seconds=drain_seconds,
        )
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "steadyhand.tracing.writer_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=(spool.lock_fd,),
            start_new_session=True,  # the terminal's Ctrl-C / hang-up are the app's, not the drain's
        )
        assert self._proc.stdin is not None
        self._stdin = self._proc.stdin
        self._stdin_fd = self._stdin.fileno()
        self._last: dict[str, Any] = {}
        self._send(json.dumps(asdict(settings)) + "\n")
        os.set_blocking(self._stdin_fd, False)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _send(self, command: str) -> None:
        with contextlib.suppress(OSError):  # full pipe (a flush is already asked for) or the child died
            os.write(self._stdin_fd, command.encode())

    def status(self) -> dict[str, Any]:
        """The child's latest progress report (the last one it sent, once it exited)."""
        if self._proc.returncode is None:
            self._last = read_status(self._spool_path) or self._last
        return self._last

    def flush(self, target: Pos, deadline: float) -> bool:
        """Wait until the child has stored everything before ``target`` (and replayed dead spools)."""
        self._send("f\n")
        pause = _POLL_S[0]
        while True:
            st = self.status()
            if st.get("orphans_done") and tuple(st.get("cursor", (0, 0))) >= target:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._proc.poll() is not None:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL_S[1])

    def stop(self, deadline: float) -> bool:
        """Let the child drain until ``deadline``, then kill it; always reaps it. True if it drained."""
        self._send(f"q {max(deadline - time.monotonic(), 0.0):.3f}\n")
        with contextlib.suppress(OSError):
            self._stdin.close()
        try:
            code = self._proc.wait(max(deadline - time.monotonic(), 0.0) + 0.1)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        assert self._proc.stdout is not None
        with self._proc.stdout as out, contextlib.suppress(ValueError):
            self._last = json.loads(out.read() or b"null") or self._last
        return code == 0
