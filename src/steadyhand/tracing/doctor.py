"""What ``steadyhand traces doctor`` looks at: dead letters, every spool under a root, and their writers.

Read-only and safe while Tracers run: a spool's lock is tested (taken and dropped at once) to tell a
live process's spool from a dead one's; nothing is created, replayed or deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._deadletter import DEAD_LETTERS
from .spool import Pos, _lock, _SpoolDir
from .writer_process import read_status

__all__ = ["DeadLetter", "Diagnosis", "SpoolState", "diagnose"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """One entry of ``dead-letters.jsonl``: a record put aside (``line``) or a note about a spool."""

    time: float
    pid: int | None
    source: str
    reason: str
    span_id: str | None
    name: str | None
    is_record: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SpoolState:
    path: Path
    live: bool
    """Held by a running Tracer (or its writer process); otherwise its process died."""
    segments: int
    pending_bytes: int
    """Bytes after the checkpoint: not yet confirmed stored."""
    checkpoint_problem: str | None
    writer: dict[str, Any] | None
    """The writer process's last status report (``writer="process"``), if any."""


@dataclass(slots=True, kw_only=True)
class Diagnosis:
    root: Path
    dead_letters: list[DeadLetter] = field(default_factory=list)
    spools: list[SpoolState] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """What needs attention, each saying what to do; empty when all is well."""

    @property
    def healthy(self) -> bool:
        return not self.problems


def _entry(raw: dict[str, Any]) -> DeadLetter:
    line, span = raw.get("line"), None
    if isinstance(line, str):
        with contextlib.suppress(ValueError):
            data = json.loads(line)
            span = data if isinstance(data, dict) else None
    span_id = span.get("span_id") if span else None
    name = span.get("name") if span else None
    return DeadLetter(
        time=float(raw.get("time") or 0.0),
        pid=raw.get("pid") if isinstance(raw.get("pid"), int) else None,
        source=str(raw.get("source", "?")),
        reason=str(raw.get("reason", "?")),
        span_id=span_id if isinstance(span_id, str) else None,
        name=name if isinstance(name, str) else None,
        is_record=isinstance(line, str),
    )


def read_dead_letters(root: Path) -> list[DeadLetter]:
    try:
        text = (root / DEAD_LETTERS).read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            raw = json.loads(line)
        except ValueError:
            raw = {"source": "?", "reason": f"unreadable dead-letter entry: {line[:80]!r}"}
        out.append(_entry(raw if isinstance(raw, dict) else {"reason": repr(raw)}))
    return out


def _pid_running(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _spool_state(path: Path) -> SpoolState:
    fd = _lock(path)
    live = fd is None
    if fd is not None:
        os.close(fd)
    spool = _SpoolDir(path, -1)
    segments = spool.segments()
    pos: Pos = spool.checkpoint()
    problem = spool.warnings[0] if spool.warnings else None
    pending = 0
    for seq in segments:
        if seq < pos[0]:
            continue
        with contextlib.suppress(OSError):
            size = (path / f"{seq:010d}.jsonl").stat().st_size
            pending += max(size - (pos[1] if seq == pos[0] else 0), 0)
    return SpoolState(
        path=path,
        live=live,
        segments=len(segments),
        pending_bytes=pending,
        checkpoint_problem=problem,
        writer=read_status(path),
    )


def diagnose(root: Path) -> Diagnosis:
    """Everything under the spool root ``root`` that needs attention (``root`` need not exist)."""
    d = Diagnosis(root=root)
    d.dead_letters = read_dead_letters(root)
    records = [e for e in d.dead_letters if e.is_record]
    notes = [e for e in d.dead_letters if not e.is_record]
    where = root / DEAD_LETTERS
    if records:
        d.problems.append(
            f"{len(records)} record(s) the store refused were put aside in {where}: fix the cause shown, "
            "then move the file away (its lines are spool lines, replayable from a spool directory)"
        )
    if notes:
        d.problems.append(f"{len(notes)} spool problem(s) were reported in {where}: see the reasons")
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if entry.is_dir():
                d.spools.append(_spool_state(Path(entry.path)))
    for s in d.spools:
        if s.checkpoint_problem:
            d.problems.append(s.checkpoint_problem)
        if not s.live and s.pending_bytes:
            d.problems.append(
                f"spool {s.path.name} belongs to no running process and holds {s.pending_bytes} bytes not "
                f"yet stored: start a Tracer with spool_dir={str(root)!r} to replay it"
            )
        writer = s.writer or {}
        if s.live and writer and not _pid_running(writer.get("pid")):
            d.problems.append(
                f"the writer process {writer.get('pid')} of spool {s.path.name} is not running: its "
                "Tracer restarts it; if this persists, see the app's log"
            )
        if s.live and writer.get("store_ok") is False:
            d.problems.append(
                f"the writer of spool {s.path.name} cannot store ({writer.get('last_error')}): spans wait "
                "in the spool until it can"
            )
    return d
