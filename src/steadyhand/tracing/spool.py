"""The write-ahead spool: every span is appended here before ``record()`` returns.

Layout: ``<root>/<pid>-<random>/`` per Tracer, holding numbered segment files of JSON lines
(``0000000001.jsonl``...), a ``checkpoint`` (``segment offset``: everything before it is in the store)
and a ``lock`` file held with ``flock`` for the Tracer's life. A directory whose lock is free belongs to
a process that died (or closed with the store down): the next Tracer on the same root claims it,
replays it from its checkpoint and deletes it, so two processes never replay the same spool.

Durability: one ``os.write`` of a whole line on an ``O_APPEND`` fd; once it returns the bytes are in the
kernel's page cache and survive the process being killed (``kill -9``), not a power loss (pass
``fsync=True`` for that, at a large cost per record). A line torn by a crash mid-write belongs to a
``record()`` that had not returned; readers skip a last line with no newline, and hand any line they
cannot read back as a span to the writer (``bad``), which puts it aside as a dead letter.

A checkpoint that cannot be right (past the end of its segment, mid-line, or past the last segment:
a segment truncated or replaced behind our back) is never trusted to skip data: the spool is replayed
from its first segment (the store drops what it already has) and the writer reports it (``warnings``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from ._serialize import span_from_json
from .records import SpanRecord

__all__ = ["Orphan", "Pos", "Spool", "claim_orphans"]

Pos = tuple[int, int]
"""(segment number, byte offset): positions compare in spool order."""

_SUFFIX = ".jsonl"


def _segment_name(seq: int) -> str:
    return f"{seq:010d}{_SUFFIX}"


class _SpoolDir:
    """Reading and checkpointing one spool directory (ours or an orphan's)."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd: int | None = lock_fd
        self.corrupt = 0
        self.bad: list[tuple[bytes, str]] = []
        """Lines read that are not span records, with why: the reader's caller dead-letters them."""
        self.warnings: list[str] = []
        """Checkpoints found wrong (see the module docstring): the caller reports and clears them."""

    def segments(self) -> list[int]:
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return sorted(int(n[: -len(_SUFFIX)]) for n in names if n.endswith(_SUFFIX) and n[:-6].isdigit())

    def checkpoint(self) -> Pos:
        """Where replay starts: the checkpoint, unless it points somewhere no line ends (then the start)."""
        try:
            seq, offset = (self.path / "checkpoint").read_text().split()
            pos = int(seq), int(offset)
        except (OSError, ValueError):
            return (0, 0)
        problem = self._check(pos)
        if problem is None:
            return pos
        self.warnings.append(
            f"spool {self.path.name}: checkpoint {pos[0]} {pos[1]} {problem}: replaying the spool from its "
            "start (the store skips spans it already has)"
        )
        return (0, 0)

    def _check(self, pos: Pos) -> str | None:
        """Why ``pos`` cannot be a stored position, or ``None``."""
        segments = self.segments()
        if not segments or pos[0] < segments[0] or pos[1] == 0 and pos[0] in segments:
            return None
        if pos[0] > segments[-1]:
            return f"is past the last segment ({segments[-1]})"
        if pos[0] not in segments:
            return None
        try:
            with open(self.path / _segment_name(pos[0]), "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if pos[1] > size:
                    return f"is past the end of its segment ({size} bytes)"
                f.seek(pos[1] - 1)
                if f.read(1) != b"\n":
                    return "is not at the end of a line"
        except OSError as e:
            return f"cannot be checked ({e})"
        return None

    def commit(self, pos: Pos) -> None:
        """Record that everything before ``pos`` is stored, and delete segments wholly before it."""
        tmp = self.path / "checkpoint.tmp"
        tmp.write_text(f"{pos[0]} {pos[1]}\n")
        os.replace(tmp, self.path / "checkpoint")
        for seq in self.segments():
            if seq < pos[0]:
                self._remove_segment(seq)

    def _remove_segment(self, seq: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path / _segment_name(seq))

    def read(self, frm: Pos, limit: Pos | None, max_n: int) -> tuple[list[tuple[SpanRecord, Pos]], Pos]:
        """Up to ``max_n`` records from ``frm`` (before ``limit`` if given), each with the position after it.

        Returns the records and where to continue: ``limit`` itself once it is reached.
        """
        out: list[tuple[SpanRecord, Pos]] = []
        pos = frm
        for seq in self.segments():
            if seq < pos[0]:
                continue
            if limit is not None and (seq, 0) >= limit:
                break
            offset = pos[1] if seq == pos[0] else 0
            pos = (seq, offset)
            stop = limit[1] if limit is not None and seq == limit[0] else None
            with open(self.path / _segment_name(seq), "rb") as f:
                f.seek(offset)
                while len(out) < max_n and (stop is None or offset < stop):
                    line = f.readline()
                    if not line.endswith(b"\n"):
                        break  # end of segment, or a torn last line whose record() never returned
                    offset += len(line)
                    pos = (seq, offset)
                    try:
                        out.append((span_from_json(line), pos))
                    except (ValueError, TypeError, RecursionError) as e:
                        self.corrupt += 1
                        self.bad.append((line, f"unreadable spool line ({type(e).__name__}: {e})"))
            if len(out) >= max_n:
                return out, pos
        if limit is not None and pos < limit:
            pos = limit
        return out, pos

    @property
    def lock_fd(self) -> int:
        """The fd holding this directory's ``flock`` (-1 once released): a writer process inherits it."""
        return -1 if self._lock_fd is None else self._lock_fd

    def release(self, *, remove: bool) -> None:
        """Drop the lock; with ``remove``, delete the directory first (everything in it is stored)."""
        if remove:
            for seq in self.segments():
                self._remove_segment(seq)
            for name in ("checkpoint", "checkpoint.tmp", "status", "status.tmp", "lock"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path / name)
            with contextlib.suppress(OSError):
                os.rmdir(self.path)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _lock(path: Path) -> int | None:
    """An fd holding an exclusive ``flock`` on ``path/lock``, or ``None`` if another process holds it."""
    try:
        fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


class Spool(_SpoolDir):
    """This Tracer's own spool; ``append`` is called under the Tracer's lock, which the writer thread
    never takes: it reads ``end`` (one tuple, replaced whole) and checkpoints from its own thread."""

    def __init__(self, root: Path, *, fsync: bool = False, segment_bytes: int = 16 << 20) -> None:
        root.mkdir(parents=True, exist_ok=True)
        path = root / f"{os.getpid()}-{os.urandom(4).hex()}"
        path.mkdir()
        fd = _lock(path)
        if fd is None:  # pragma: no cover - a fresh random directory is never locked
            raise OSError(f"cannot lock new spool directory {path}")
        super().__init__(path, fd)
        self._fsync = fsync
        self._segment_bytes = segment_bytes
        self._seq = 0
        self._fd = -1
        self._offset = 0
        self._sizes: dict[int, int] = {}
        self.end: Pos = (0, 0)
        """Where the next line goes."""
        self._rotate()

    @property
    def live_bytes(self) -> int:
        """Bytes in segments not yet wholly stored (summed in C: atomic with respect to other threads)."""
        return sum(self._sizes.values())

    def _rotate(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            on_disk = set(self.segments())  # a writer process deletes stored segments behind our back
            self._sizes = {seq: n for seq, n in self._sizes.items() if seq in on_disk}
        self._seq += 1
        self._offset = 0
        self._sizes[self._seq] = 0
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL
        self._fd = os.open(self.path / _segment_name(self._seq), flags, 0o600)
        self.end = (self._seq, 0)

    def append(self, line: bytes) -> tuple[Pos, Pos]:
        """Write one line; returns its (start, end) positions. Raises ``OSError`` (nothing half-written)."""
        if self._offset >= self._segment_bytes:
            self._rotate()
        start = (self._seq, self._offset)
        try:
            n = os.write(self._fd, line)
            if n != len(line):
                raise OSError(f"short write to the spool ({n} of {len(line)} bytes): disk full?")
            if self._fsync:
                os.fdatasync(self._fd)
        except OSError:
            self._undo()
            raise
        self._offset += n
        self._sizes[self._seq] += n
        self.end = end = (self._seq, self._offset)
        return start, end

    def _undo(self) -> None:
        """Cut a partial line off so the next append starts on a line boundary; else start a new segment."""
        try:
            os.ftruncate(self._fd, self._offset)
        except OSError:
            with contextlib.suppress(OSError):
                self._rotate()

    def _remove_segment(self, seq: int) -> None:
        if seq == self._seq:
            return
        super()._remove_segment(seq)
        self._sizes.pop(seq, None)

    def close(self, *, remove: bool) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._seq = -1  # no segment is active any more: all may be removed
        self.release(remove=remove)


class Orphan(_SpoolDir):
    """A dead process's spool, locked by us until it is replayed and removed."""


def claim_orphans(root: Path, *, own: Path | None) -> list[Orphan]:
    """Lock every spool directory under ``root`` that no live process holds (skipping ``own``)."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return []
    found = []
    for entry in entries:
        path = Path(entry.path)
        if path == own or not entry.is_dir():
            continue
        fd = _lock(path)
        if fd is not None:
            found.append(Orphan(path, fd))
    return found
