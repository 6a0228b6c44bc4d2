"""The out-of-process writer: tails a Tracer's live spool into the store, so the app keeps only the hot path.

Started by ``Tracer(url, writer="process")`` as ``python -m steadyhand.tracing.writer_process``. It reads
one JSON line of settings on stdin (the database URL stays out of ``ps``), then commands: ``f`` (deliver
what is there now: a ``flush()`` is waiting) and ``q SECONDS`` (the app is closing: drain for at most that
long, then exit). End of stdin, or a new parent pid, means the app is gone: drain for ``drain_seconds``.

The app and this process share the spool's ``flock`` (the lock fd is inherited), so the spool stays
claimed while the store catches up after the app died. Progress goes to the durable ``checkpoint`` (what
a later Tracer replays from) and to a ``status`` file the app reads in ``flush()``/``stats()``. A spool
drained after the app stopped appending is deleted; one that is not (store down) is left, unlocked once
this process exits, for the next Tracer on the same root. Only stdlib and the spool reader load at start:
the store (SQLAlchemy) is imported when the first batch is ready.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .records import SpanRecord
from .spool import Orphan, Pos, claim_orphans

__all__ = ["Settings", "main", "read_status"]

log = logging.getLogger("steadyhand.tracing")

_ORPHAN_RESCAN_S = 30.0
_MAX_BACKOFF_S = 2.0
STATUS = "status"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """What the app sends as the first line on stdin."""

    url: str
    spool: str
    root: str
    lock_fd: int
    parent: int
    batch_size: int = 256
    interval: float = 0.2
    drain_seconds: float = 30.0


def read_status(spool: Path) -> dict[str, Any] | None:
    """The child's last progress report (``None`` before the first one, or if unreadable)."""
    try:
        with open(spool / STATUS, "rb") as f:
            value = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class _Child:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.spool = Orphan(Path(settings.spool), settings.lock_fd)
        self.root = Path(settings.root)
        self.cursor: Pos = self.spool.checkpoint()
        self.store: Any = None
        self.written = self.replayed = self.store_errors = 0
        self.orphans_done = False
        self.last_error: str | None = None
        self.deadline: float | None = None
        """Set once the app closed or died: drain until then, then exit."""
        self.urgent = False
        self._buf = b""

    # -- commands from the app --------------------------------------------------------------------

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking for a command; notices the app going away."""
        if self.deadline is None and os.getppid() != self.s.parent:
            self._stop_at(self.s.drain_seconds)
        if self.deadline is not None:
            seconds = min(seconds, 0.05)
        ready, _, _ = select.select([0], [], [], max(seconds, 0.0))
        if not ready:
            return
        data = os.read(0, 4096)
        if not data:  # end of stdin: the app exited (or closed it) without a 'q'
            self._stop_at(self.s.drain_seconds)
            return
        self.feed(data)

    def feed(self, data: bytes) -> None:
        *lines, self._buf = (self._buf + data).split(b"\n")
        for line in lines:
            cmd, _, arg = line.decode().partition(" ")
            if cmd == "f":
                self.urgent = True
            elif cmd == "q":
                self._stop_at(float(arg or 0))

    def _stop_at(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        self.deadline = deadline if self.deadline is None else min(self.deadline, deadline)

    def give_up(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    # -- delivery ---------------------------------------------------------------------------------

    def deliver(self, spans: Sequence[SpanRecord]) -> bool:
        """Write to the store until it works; False if the drain deadline passed first."""
        backoff = 0.05
        while True:
            try:
                if self.store is None:
                    from ..store import open_store  # SQLAlchemy loads only once there is work

                    self.store = open_store(self.s.url)
                self.store.write_spans(spans)
                self.written += len(spans)
                return True
            except Exception as e:
                self.store_errors += 1
                self.last_error = f"{type(e).__name__}: {e}"
                if self.store_errors == 1 or self.store_errors % 100 == 0:
                    log.warning("steadyhand trace store write failed (%s); spans stay spooled", e)
                self.report()
                if self.give_up():
                    return False
                self.wait(backoff)
                if self.give_up():
                    return False
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    def drain(self) -> bool:
        """Deliver everything the spool holds now; True when the cursor reached its end."""
        while True:
            got, nxt = self.spool.read(self.cursor, None, self.s.batch_size)
            if got and not self.deliver([s for s, _ in got]):
                return False
            if nxt != self.cursor:
                self.cursor = nxt
                self.spool.commit(nxt)
                self.report()
            if len(got) < self.s.batch_size:
                return True

    def replay_orphans(self) -> None:
        for orphan in claim_orphans(self.root, own=self.spool.path):
            pos = orphan.checkpoint()
            while True:
                got, nxt = orphan.read(pos, None, self.s.batch_size)
                if not got:
                    break
                if not self.deliver([s for s, _ in got]):
                    orphan.release(remove=False)
                    return
                self.replayed += len(got)
                orphan.commit(nxt)
                pos = nxt
            orphan.release(remove=True)
        self.orphans_done = True
        self.report()

    def report(self, *, final: bool = False) -> None:
        status = {
            "pid": os.getpid(),
            "cursor": list(self.cursor),
            "written": self.written,
            "replayed": self.replayed,
            "store_errors": self.store_errors,
            "orphans_done": self.orphans_done,
            "last_error": self.last_error,
        }
        if final:  # the status file goes with the spool: the app reads the last report from our stdout
            with contextlib.suppress(OSError):  # the app died: nobody reads it
                os.write(1, json.dumps(status).encode() + b"\n")
            return
        tmp = self.spool.path / f"{STATUS}.tmp"
        try:
            tmp.write_text(json.dumps(status))
            os.replace(tmp, self.spool.path / STATUS)
        except OSError as e:  # the app's flush() then waits for its timeout; nothing is lost
            self.last_error = f"status: {e}"

    def run(self) -> int:
        self.report()
        next_scan = 0.0
        while True:
            if time.monotonic() >= next_scan:
                self.replay_orphans()
                next_scan = time.monotonic() + _ORPHAN_RESCAN_S
            self.urgent = False
            done = self.drain()
            if self.deadline is not None and (done or self.give_up()):
                break
            if not self.urgent:
                self.wait(self.s.interval)
        if self.store is not None:
            self.store.close()
        self.report(final=True)
        if done:  # the app no longer appends: everything in this spool is stored
            self.spool.release(remove=True)
            return 0
        self.spool.release(remove=False)
        return 1


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the app; we drain after it exits
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(0, 65536)
        if not chunk:
            return 2
        line += chunk
    first, _, rest = line.partition(b"\n")
    child = _Child(Settings(**json.loads(first)))
    child.feed(rest)  # commands sent along with the settings
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    return child.run()


if __name__ == "__main__":
    sys.exit(main())
