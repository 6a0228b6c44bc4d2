"""writer="process": spans reach a real SQLite store exactly once through a subprocess that tails the
spool; flush stays bounded with the store down; kill -9 of the app loses nothing; no child is left."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import steadyhand
from _procs import Reaper
from steadyhand.errors import ConfigurationError
from steadyhand.store import open_store
from steadyhand.tracing import SpanRecord, Tracer

ROOT = Path(__file__).resolve().parents[2]
HANG_MARGIN = 10.0
"""Slack for a loaded machine: the bounds below catch an unbounded wait, not slowness (see benchmarks)."""


def _stored_ids(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [r[0] for r in conn.execute("SELECT span_id FROM spans")]


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child of a dead app waits for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def _wait_gone(pid: int, seconds: float) -> bool:
    return _wait_for(lambda: not _running(pid), seconds)


def _record(tracer: Tracer, n: int, prefix: str = "s") -> list[str]:
    ids = []
    for i in range(n):
        span = SpanRecord(name=f"{prefix}{i}", kind="llm", model="gpt-4o-mini", input_tokens=3)
        tracer.record(span)
        ids.append(span.span_id)
    return ids


def test_spans_arrive_exactly_once_and_close_reaps_the_child(tmp_path: Path, reap: Reaper) -> None:
    db, spool = tmp_path / "traces.db", tmp_path / "spool"
    tracer = Tracer(f"sqlite:///{db}", writer="process", spool_dir=spool, exit_timeout=None, batch_size=50)
    pid = tracer.writer_pid
    assert pid is not None and _running(pid)
    reap.pid(pid)  # killed at teardown if close() is never reached
    ids = _record(tracer, 1234)
    assert tracer.flush(timeout=30)
    stats = tracer.stats()
    assert (stats.enqueued, stats.spooled, stats.written, stats.queued) == (1234, 1234, 1234, 0)
    more = _record(tracer, 66, prefix="t")
    assert tracer.close(timeout=30)
    assert not _running(pid), "close() must stop and reap the writer process"
    stored = Counter(_stored_ids(db))
    assert sorted(stored) == sorted(ids + more) and max(stored.values()) == 1
    assert [p for p in spool.iterdir() if p.is_dir()] == [], "a drained spool is removed"
    assert tracer.writer_pid == pid  # still reported after close, for diagnostics


def test_a_store_object_is_reopened_from_its_url(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    with (
        open_store(f"sqlite:///{db}") as store,
        Tracer(store, writer="process", spool_dir=tmp_path / "spool", exit_timeout=None) as tracer,
    ):
        ids = _record(tracer, 10)
        assert tracer.flush(timeout=30)
    assert sorted(_stored_ids(db)) == sorted(ids)


def test_flush_is_bounded_while_the_store_is_down_and_everything_arrives_after(tmp_path: Path) -> None:
    db, spool = tmp_path / "traces.db", tmp_path / "spool"
    db.mkdir()  # a directory where the database file should be: every open fails
    tracer = Tracer(
        f"sqlite:///{db}", writer="process", spool_dir=spool, exit_timeout=None, flush_interval=0.02
    )
    try:
        ids = _record(tracer, 500)
        t0 = time.monotonic()
        assert not tracer.flush(timeout=0.5)
        assert time.monotonic() - t0 < 0.5 + HANG_MARGIN  # the store stays down: unbounded would hang
        ids += _record(tracer, 500, prefix="t")  # the app is unaffected: nothing queues in its memory
        # the child reports its first failed write once it has started (seconds on a loaded machine)
        assert _wait_for(lambda: tracer.stats().store_errors > 0, 60), tracer.stats()
        stats = tracer.stats()
        assert stats.written == 0 and stats.queued == 0 and stats.dropped == 0
        assert stats.last_error is not None and "database" in stats.last_error
        db.rmdir()
        assert tracer.flush(timeout=30), tracer.stats()
    finally:
        assert tracer.close(timeout=10)
    stored = Counter(_stored_ids(db))
    assert sorted(stored) == sorted(ids) and max(stored.values()) == 1


def test_close_with_the_store_down_kills_the_child_in_time_and_leaves_the_spool(
    tmp_path: Path, reap: Reaper
) -> None:
    db, spool = tmp_path / "traces.db", tmp_path / "spool"
    db.mkdir()
    tracer = Tracer(f"sqlite:///{db}", writer="process", spool_dir=spool, exit_timeout=None)
    ids = _record(tracer, 100)
    pid = tracer.writer_pid
    assert pid is not None
    reap.pid(pid)  # killed at teardown if close() is never reached
    t0 = time.monotonic()
    assert not tracer.close(timeout=0.5)
    assert time.monotonic() - t0 < 0.5 + HANG_MARGIN  # the child would drain forever: unbounded hangs
    assert not _running(pid)
    assert [p for p in spool.iterdir() if p.is_dir()], "unstored spans stay in the spool"
    db.rmdir()
    with Tracer(
        f"sqlite:///{db}", writer="process", spool_dir=spool, exit_timeout=None
    ) as later:  # replays it
        assert later.flush(timeout=30)
        assert later.stats().replayed == 100
    assert sorted(_stored_ids(db)) == sorted(ids)


def _start_app(db: Path, spool: Path, count: int, reap: Reaper) -> tuple[subprocess.Popen[str], int]:
    """The crash app and its writer process's pid, both reaped at teardown whatever happens."""
    # the repo root (for tests.tracing._crash_app) before the path this run imports steadyhand from
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(steadyhand.__file__).parents[1])]),
    }
    proc = reap(
        subprocess.Popen(
            [sys.executable, "-m", "tests.tracing._crash_app", str(db), str(spool), str(count), "process"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("pid "), first
    return proc, reap.pid(int(first.split()[1]))


def _kill_mid_burst(proc: subprocess.Popen[str], *, after: int) -> list[str]:
    """SIGKILL the app once it printed ``after`` ids; every id it printed (its record() returned)."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while len(seen) < after and time.monotonic() < deadline:
        seen.append(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    rest = proc.stdout.read().split("\n")[:-1]  # the last line may be cut by the kill
    proc.wait(10)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "the app finished before the kill: not mid-burst"
    printed = [i for i in seen + rest if len(i) == 16]
    assert len(printed) >= after
    return printed


def test_kill_9_of_the_app_the_child_drains_everything_exactly_once(tmp_path: Path, reap: Reaper) -> None:
    db, spool = tmp_path / "traces.db", tmp_path / "spool"
    proc, child = _start_app(db, spool, 1_000_000, reap)
    printed = _kill_mid_burst(proc, after=3000)
    assert _wait_gone(child, 30), "the writer process must drain and exit once the app is gone"
    stored = Counter(_stored_ids(db))
    assert [i for i in printed if i not in stored] == []
    assert [i for i, n in stored.items() if n > 1] == []
    assert [p for p in spool.iterdir() if p.is_dir()] == [], "the drained spool is removed"


def test_kill_9_of_app_and_child_a_later_tracer_replays_the_rest(tmp_path: Path, reap: Reaper) -> None:
    db, spool = tmp_path / "traces.db", tmp_path / "spool"
    proc, child = _start_app(db, spool, 1_000_000, reap)
    os.kill(child, signal.SIGSTOP)  # frozen first, so it cannot drain after the app dies (and a dead
    printed = _kill_mid_burst(proc, after=3000)  # child would be restarted by the app's watchdog)
    os.kill(child, signal.SIGKILL)
    assert _wait_gone(child, 10)
    stored_before = set(_stored_ids(db)) if db.exists() else set()
    assert len(stored_before) < len(printed), "everything was already stored: the kill proved nothing"
    with Tracer(f"sqlite:///{db}", writer="process", spool_dir=spool, exit_timeout=None) as later:
        assert later.flush(timeout=30)
        assert later.stats().replayed >= len(printed) - len(stored_before)
    stored = Counter(_stored_ids(db))
    assert [i for i in printed if i not in stored] == []
    assert [i for i, n in stored.items() if n > 1] == []
    assert [p for p in spool.iterdir() if p.is_dir()] == []


def test_a_normal_exit_flushes_through_atexit_and_reaps_the_child(tmp_path: Path, reap: Reaper) -> None:
    db, spool = tmp_path / "traces.db", tmp_path / "spool"
    proc, child = _start_app(db, spool, 500, reap)
    assert proc.stdout is not None
    with proc:
        out = proc.stdout.read()  # not communicate(): it would skip what readline() buffered
        proc.wait(60)
    assert proc.returncode == 0
    printed = [i for i in out.split("\n") if len(i) == 16]
    assert len(printed) == 500
    assert sorted(_stored_ids(db)) == sorted(printed)
    assert not Path(f"/proc/{child}").exists(), "the app reaped its writer process before exiting"


def test_process_mode_needs_a_url_and_a_spool(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="database URL"):
        Tracer(object(), writer="process", spool_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="in-memory"):
        Tracer("sqlite:///:memory:", writer="process", spool_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="spool_dir"):
        Tracer(f"sqlite:///{tmp_path}/t.db", writer="process", spool_dir=None)
    with pytest.raises(ConfigurationError, match="writer='process'"):
        Tracer(f"sqlite:///{tmp_path}/t.db", spool_dir=tmp_path)


def test_the_child_loads_no_store_code_before_it_has_work() -> None:
    """Started with no settings (stdin closed at once) it exits, having imported no SQLAlchemy."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "steadyhand.tracing.writer_process"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
    assert "steadyhand.tracing.spool" in imported
    assert [m for m in imported if m.startswith(("sqlalchemy", "steadyhand.store", "alembic"))] == []
