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

Nothing here may end the process but the app going away: a checkpoint or status file that cannot be
written (disk full) is retried with the next batch (a crash would replay a little more, never less),
a record the store refuses is put aside as a dead letter, and any other failure is logged and retried.
If this process dies anyway, the app's ``ProcessWriter`` starts another, which resumes from the
checkpoint.
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

from .._sched import give_way
from ._deadletter import DeadLetters, write_or_isolate
from .records import SpanRecord
from .spool import Orphan, Pos, _SpoolDir, claim_orphans

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
        self.dead = DeadLetters(self.root)
        self.cursor: Pos = self.spool.checkpoint()
        self.checkpointed = self.cursor
        self.store: Any = None
        self.written = self.replayed = self.store_errors = self.spool_errors = 0
        self.orphans_done = False
        self.store_ok: bool | None = None
        """Whether the last store write worked (``None`` before the first)."""
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
                rejected = write_or_isolate(self.store.write_spans, spans)
                for span, reason in rejected:
                    self.dead.span(span, reason)
                    self.last_error = f"dead letter: {reason}"
                self.written += len(spans) - len(rejected)
                self.store_ok = True
                return True
            except Exception as e:
                self.store_ok = False
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
        self.warn(self.spool)
        while True:
            got, nxt = self.spool.read(self.cursor, None, self.s.batch_size)
            self.put_aside(self.spool)
            give_way(len(got) < self.s.batch_size)  # a full batch read: more may wait (``_sched``)
            if got and not self.deliver([s for s, _ in got]):
                return False
            if nxt != self.cursor:
                self.cursor = nxt
                self.commit(self.spool, nxt)
                self.report()
            if len(got) < self.s.batch_size:
                return True

    def commit(self, spool: _SpoolDir, pos: Pos) -> bool:
        """Checkpoint ``pos``; a disk that is full only means a crash replays more (duplicates)."""
        try:
            spool.commit(pos)
        except OSError as e:
            self.spool_errors += 1
            self.last_error = f"spool checkpoint: {e}"
            if self.spool_errors == 1 or self.spool_errors % 100 == 0:
                log.warning("steadyhand writer cannot checkpoint the spool (%s); retrying", e)
            return False
        if spool is self.spool:
            self.checkpointed = pos
        return True

    def put_aside(self, spool: _SpoolDir) -> None:
        for line, reason in spool.bad:
            self.dead.line(line, reason, source="spool")
            self.last_error = f"dead letter: {reason}"
        spool.bad.clear()

    def warn(self, spool: _SpoolDir) -> None:
        for warning in spool.warnings:
            log.warning("steadyhand %s", warning)
            self.dead.line(None, warning, source="spool checkpoint")
            self.spool_errors += 1
            self.last_error = warning
        spool.warnings.clear()

    def replay_orphans(self) -> None:
        for orphan in claim_orphans(self.root, own=self.spool.path):
            pos = orphan.checkpoint()
            self.warn(orphan)
            while True:
                got, nxt = orphan.read(pos, None, self.s.batch_size)
                self.put_aside(orphan)
                if not got:
                    if nxt != pos:  # only unreadable lines: put aside, move past them
                        self.commit(orphan, nxt)
                    break
                if not self.deliver([s for s, _ in got]):
                    orphan.release(remove=False)
                    return
                self.replayed += len(got)
                self.commit(orphan, nxt)
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
            "spool_errors": self.spool_errors,
            "dead_lettered": self.dead.count,
            "orphans_done": self.orphans_done,
            "store_ok": self.store_ok,
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
        done = False
        while True:
            try:
                if time.monotonic() >= next_scan:
                    next_scan = time.monotonic() + _ORPHAN_RESCAN_S
                    self.replay_orphans()
                self.urgent = False
                done = self.drain()
                if done and self.checkpointed != self.cursor:
                    self.commit(self.spool, self.cursor)  # a checkpoint the disk refused before
            except Exception as e:  # a bug or a broken disk must not end the writer
                log.exception("steadyhand writer process failed; retrying")
                self.last_error = f"{type(e).__name__}: {e}"
                done = False
                self.wait(0.5)
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
