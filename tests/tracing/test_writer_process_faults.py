"""writer="process" under bad luck: a full disk under its checkpoint does not end it, a child that dies
is started again (and reported in ``stats()`` and the logs), and nothing is lost or duplicated."""

from __future__ import annotations

import errno
import logging
import os
import signal
import time
from pathlib import Path

import pytest

from steadyhand.tracing import SpanRecord, Tracer, _process
from steadyhand.tracing._serialize import span_to_line
from steadyhand.tracing.spool import Orphan, _lock
from steadyhand.tracing.writer_process import Settings, _Child

from .test_spool_replay import _stored


def _wait(predicate: object, seconds: float = 30.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_a_full_disk_under_the_checkpoint_does_not_end_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, db = tmp_path / "spool", tmp_path / "t.db"
    path = root / "1-own"
    path.mkdir(parents=True)
    spans = [SpanRecord(name=f"s{i}") for i in range(10)]
    (path / "0000000001.jsonl").write_bytes(b"".join(span_to_line(s) for s in spans))
    fd = _lock(path)
    assert fd is not None
    child = _Child(Settings(url=f"sqlite:///{db}", spool=str(path), root=str(root), lock_fd=fd, parent=1))

    def disk_full(self: Orphan, pos: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path / "checkpoint.tmp"))

    monkeypatch.setattr(Orphan, "commit", disk_full)
    try:
        assert child.drain()  # before the fix: OSError [Errno 28] ended the process here
        assert _stored(db) == {s.span_id for s in spans}
        assert child.spool_errors == 1 and child.last_error is not None and "No space" in child.last_error
        assert not (path / "checkpoint").exists()
        monkeypatch.undo()  # space again: the next checkpoint goes through
        child.deadline = time.monotonic()  # the app is gone: one more round, then exit
        assert child.run() == 0
    finally:
        if child.store is not None:
            child.store.close()
    assert not path.exists()  # drained and removed


def test_a_dead_writer_process_is_reported_and_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_process, "_RESTART_S", (1.0, 30.0))  # a window wide enough to see it dead
    db = tmp_path / "t.db"
    spool = tmp_path / "spool"
    tracer = Tracer(
        f"sqlite:///{db}", writer="process", spool_dir=spool, exit_timeout=None, flush_interval=0.02
    )
    try:
        first = [SpanRecord(name=f"a{i}") for i in range(20)]
        for s in first:
            tracer.record(s)
        assert tracer.flush(timeout=60)
        pid = tracer.writer_pid
        assert pid is not None
        with caplog.at_level(logging.ERROR, logger="steadyhand.tracing"):
            os.kill(pid, signal.SIGKILL)
            assert _wait(lambda: not tracer.stats().writer_alive)
            second = [SpanRecord(name=f"b{i}") for i in range(20)]
            for s in second:
                tracer.record(s)  # the app never waits: spans wait in the spool
            assert _wait(lambda: tracer.stats().writer_alive and tracer.stats().writer_restarts == 1)
        assert any(f"writer process {pid} died" in r.getMessage() for r in caplog.records)
        assert tracer.writer_pid != pid
        assert tracer.flush(timeout=60)
        stats = tracer.stats()
        assert stats.written >= 40 and stats.writer_restarts == 1
        assert _stored(db) == {s.span_id for s in first + second}
    finally:
        assert tracer.close(timeout=30)
