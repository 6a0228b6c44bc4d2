"""The app's side of ``writer="process"``: start the writer subprocess, ask it to flush, read its progress.

Nothing is queued in memory: ``record()`` only appends to the spool, and the child tails it. Commands go
down the child's stdin (non-blocking: a stuck child can never block the app); progress comes back
through the ``status`` file the child rewrites after each batch. See ``writer_process``.

A watchdog thread (blocked in ``waitpid``, so it costs the app no GIL) notices the child dying, logs
it, and starts another after a backoff; the new one resumes from the spool's checkpoint. Counters
of the children that died are carried over, so ``stats()`` never goes backwards.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .spool import Pos, Spool
from .writer_process import Settings, read_status

__all__ = ["ProcessWriter", "store_url"]

log = logging.getLogger("steadyhand.tracing")

_POLL_S = (0.001, 0.02)
"""First and longest pause between reads of the status file in ``flush()``."""
_RESTART_S = (0.2, 30.0)
"""First and longest pause before starting a new child after one died (doubling while they keep dying)."""
_STABLE_S = 60.0
"""A child that lived this long resets the backoff."""
_COUNTERS = ("written", "replayed", "store_errors", "spool_errors", "dead_lettered")


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
    """One writer subprocess per Tracer at a time, sharing the spool's lock; restarted when it dies,
    reaped by ``stop()``."""

    def __init__(
        self, *, url: str, spool: Spool, root: Path, batch_size: int, interval: float, drain_seconds: float
    ) -> None:
        self._spool_path = spool.path
        self._lock_fd = spool.lock_fd
        self._settings = json.dumps(
            asdict(
                Settings(
                    url=url,
                    spool=str(spool.path.resolve()),
                    root=str(root.resolve()),
                    lock_fd=spool.lock_fd,
                    parent=os.getpid(),
                    batch_size=batch_size,
                    interval=interval,
                    drain_seconds=drain_seconds,
                )
            )
        )
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._exited = threading.Event()
        self._last: dict[str, Any] = {}
        self._carried = dict.fromkeys(_COUNTERS, 0)
        """Counters of children that died, added to the current child's."""
        self.restarts = 0
        self.last_exit: int | None = None
        self._spawn()
        self._watch = threading.Thread(target=self._watchdog, name="steadyhand-writer-watch", daemon=True)
        self._watch.start()

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "steadyhand.tracing.writer_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=(self._lock_fd,),
            start_new_session=True,  # the terminal's Ctrl-C / hang-up are the app's, not the drain's
        )
        self._started = time.monotonic()
        self._exited.clear()
        assert self._proc.stdin is not None
        self._stdin = self._proc.stdin
        self._stdin_fd = self._stdin.fileno()
        self._send(self._settings + "\n")
        os.set_blocking(self._stdin_fd, False)

    def _watchdog(self) -> None:
        backoff = _RESTART_S[0]
        while True:
            proc = self._proc
            code = proc.wait()
            self._exited.set()
            if self._stopping.is_set():
                return
            self.last_exit = code
            if time.monotonic() - self._started >= _STABLE_S:
                backoff = _RESTART_S[0]
            log.error(
                "steadyhand writer process %d died (exit code %s); starting another in %.1f s "
                "(spans stay in the spool meanwhile)",
                proc.pid,
                code,
                backoff,
            )
            with self._lock:
                self._carry(read_status(self._spool_path) or {})
            with contextlib.suppress(OSError, ValueError):
                self._stdin.close()
            if proc.stdout is not None:
                proc.stdout.close()
            if self._stopping.wait(backoff):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    self._spawn()
                    self.restarts += 1
                except OSError as e:  # no memory, no fds: try again after a longer pause
                    log.error("steadyhand cannot start a writer process (%s); retrying", e)
            backoff = min(backoff * 2, _RESTART_S[1])

    def _carry(self, last: dict[str, Any]) -> None:
        """Fold a dead child's last counters into ``_carried`` (and drop its status file)."""
        for key in _COUNTERS:
            self._carried[key] += int(last.get(key, 0))
        why = last.get("last_error") or f"writer process exited with code {self.last_exit}"
        self._last = {**last, **dict.fromkeys(_COUNTERS, 0), "last_error": why}
        with contextlib.suppress(OSError):
            os.unlink(self._spool_path / "status")

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        """Whether a writer process is running now (False between a death and its restart)."""
        return self._proc.returncode is None and not self._exited.is_set()

    def _send(self, command: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # full pipe (a flush is asked for) or a dead child
            os.write(self._stdin_fd, command.encode())

    def status(self) -> dict[str, Any]:
        """The children's progress: the current one's latest report, plus the counters of dead ones."""
        with self._lock:
            alive = self.alive
            current = read_status(self._spool_path) if alive else None
            if current is not None:
                self._last = current
            merged = dict(self._last)
            mine = self._last.get("pid") == self._proc.pid or not alive
            for key in _COUNTERS:
                merged[key] = self._carried[key] + (int(self._last.get(key, 0)) if mine else 0)
            return merged

    def flush(self, target: Pos, deadline: float) -> bool:
        """Wait until a child has stored everything before ``target`` (and replayed dead spools)."""
        self._send("f\n")
        pause = _POLL_S[0]
        while True:
            st = read_status(self._spool_path) if self.alive else None
            if st is not None and st.get("orphans_done") and tuple(st.get("cursor", (0, 0))) >= target:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL_S[1])

    def stop(self, deadline: float) -> bool:
        """Let the child drain until ``deadline``, then kill it; always reaps it. True if it drained."""
        with self._lock:
            self._stopping.set()
        proc = self._proc
        self._send(f"q {max(deadline - time.monotonic(), 0.0):.3f}\n")
        with contextlib.suppress(OSError):
            self._stdin.close()
        if not self._exited.wait(max(deadline - time.monotonic(), 0.0) + 0.1):
            proc.kill()
            self._exited.wait()
        self._watch.join()
        if proc.stdout is not None and not proc.stdout.closed:
            with proc.stdout as out, contextlib.suppress(ValueError):
                final = json.loads(out.read() or b"null")
                if isinstance(final, dict):
                    self._last = final
        return proc.returncode == 0
