"""Crash safety: every span whose record() returned reaches the store exactly once, even after kill -9."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

import steadyhand
from _procs import Reaper
from services import PostgresCluster
from steadyhand.store import open_store
from steadyhand.tracing import SpanRecord, Tracer

from ._stores import MemoryStore

_names = itertools.count()


def _stored_ids(db: Path | str) -> list[str]:
    """Every span id in the real store (a SQLite file, read with stdlib sqlite3, or a database URL),
    duplicates included."""
    if isinstance(db, str):
        engine = sa.create_engine(db)
        try:
            with engine.connect() as conn:
                return list(conn.exec_driver_sql("SELECT span_id FROM spans").scalars())
        finally:
            engine.dispose()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [r[0] for r in conn.execute("SELECT span_id FROM spans")]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_at(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path | str, str]:
    """Where the crash app stores (a SQLite file, or a fresh PostgreSQL database) and its URL."""
    if request.param == "sqlite":
        return tmp_path / "traces.db", f"sqlite:///{tmp_path / 'traces.db'}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    url = cluster.create_database(f"crash{os.getpid()}_{next(_names)}")
    open_store(url).close()  # migrated before the app starts: its first batch is not the migration
    return url, url


ROOT = Path(__file__).resolve().parents[2]


def _start_app(db: Path | str, spool: Path, count: int, reap: Reaper) -> subprocess.Popen[str]:
    """The crash app, reaped at teardown whatever happens."""
    # the repo root (for tests.tracing._crash_app) before the path this run imports steadyhand from
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(steadyhand.__file__).parents[1])]),
    }
    return reap(
        subprocess.Popen(
            [sys.executable, "-m", "tests.tracing._crash_app", str(db), str(spool), str(count)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
    )


def _ids(text: str) -> list[str]:
    """Complete lines only: the last one may be cut by the kill."""
    lines = text.split("\n")[:-1]
    return [line for line in lines if len(line) == 16]


def test_kill_9_mid_burst_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, reap: Reaper, store_at: tuple[Path | str, str]
) -> None:
    (db, url), spool = store_at, tmp_path / "spool"
    proc = _start_app(db, spool, 1_000_000, reap)
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while len(seen) < 3000 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.endswith("\n"):
            seen.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    rest = proc.stdout.read()
    proc.wait(10)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "the app finished before the kill: not mid-burst"
    printed = seen + _ids(rest)
    assert len(printed) >= 3000

    stored_before = set(_stored_ids(db))
    assert len(stored_before) < len(printed), "everything was already stored: the kill proved nothing"
    leftover = [p for p in spool.iterdir() if p.is_dir()]
    assert leftover, "the dead app's spool should still be there"

    with (
        open_store(url) as store,
        Tracer(store, spool_dir=spool, flush_interval=0.01, exit_timeout=None) as tracer,
    ):
        assert tracer.flush(timeout=30)
        assert tracer.stats().replayed >= len(printed) - len(stored_before)
    stored = Counter(_stored_ids(db))
    missing = [i for i in printed if i not in stored]
    assert missing == []
    assert [i for i, n in stored.items() if n > 1] == []
    assert [p for p in spool.iterdir() if p.is_dir()] == [], "replayed spools are removed"


def test_a_normal_exit_flushes_through_atexit(tmp_path: Path, reap: Reaper) -> None:
    db, spool = tmp_path / "traces.db", tmp_path / "spool"
    proc = _start_app(db, spool, 500, reap)
    with proc:
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    printed = _ids(out)
    assert len(printed) == 500
    assert sorted(_stored_ids(db)) == sorted(printed)
    assert [p for p in spool.iterdir() if p.is_dir()] == []


def test_a_torn_last_line_is_ignored_and_the_rest_replayed(tmp_path: Path, store: MemoryStore) -> None:
    spool = tmp_path / "spool"
    dead = spool / "999-deadbeef"
    dead.mkdir(parents=True)
    good = [SpanRecord(name=f"s{i}") for i in range(3)]
    from steadyhand.tracing._serialize import span_to_line

    body = b"".join(span_to_line(s) for s in good) + span_to_line(SpanRecord(name="torn"))[:25]
    (dead / "0000000001.jsonl").write_bytes(body)
    with Tracer(store, spool_dir=spool, exit_timeout=None, flush_interval=0.01) as tracer:
        assert tracer.flush(10)
    assert sorted(s.name for s in store.spans.values()) == ["s0", "s1", "s2"]
    assert not dead.exists()


def test_a_checkpoint_skips_what_was_already_stored(tmp_path: Path, store: MemoryStore) -> None:
    spool = tmp_path / "spool"
    dead = spool / "999-cafecafe"
    dead.mkdir(parents=True)
    from steadyhand.tracing._serialize import span_to_line

    lines = [span_to_line(SpanRecord(name=f"s{i}")) for i in range(4)]
    (dead / "0000000001.jsonl").write_bytes(b"".join(lines))
    (dead / "checkpoint").write_text(f"1 {len(lines[0]) + len(lines[1])}\n")
    with Tracer(store, spool_dir=spool, exit_timeout=None, flush_interval=0.01) as tracer:
        assert tracer.flush(10)
    assert sorted(s.name for s in store.spans.values()) == ["s2", "s3"]


def test_a_live_tracers_spool_is_not_replayed_by_another(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    down, other = MemoryStore(), MemoryStore()
    down.down = True
    a = Tracer(down, spool_dir=spool, exit_timeout=None, flush_interval=0.01)
    for i in range(20):
        a.record(SpanRecord(name=f"a{i}"))
    b = Tracer(other, spool_dir=spool, exit_timeout=None, flush_interval=0.01)
    assert b.flush(5)
    assert other.spans == {}, "b replayed a spool a still holds"
    assert not a.close(timeout=0.2)  # store down: a leaves its spool behind, unlocked
    b.close(timeout=1)
    c = Tracer(other, spool_dir=spool, exit_timeout=None, flush_interval=0.01)
    assert c.flush(10)
    c.close()
    assert sorted(s.name for s in other.spans.values()) == sorted(f"a{i}" for i in range(20))


def test_store_outage_in_process_keeps_memory_bounded_and_catches_up(tmp_path: Path) -> None:
    store = MemoryStore()
    store.down = True
    tracer = Tracer(store, spool_dir=tmp_path / "spool", max_queue=100, batch_size=50, exit_timeout=None)
    ids = []
    for i in range(3000):
        s = SpanRecord(name=f"s{i}")
        tracer.record(s)
        ids.append(s.span_id)
    assert tracer.stats().queued <= 100
    assert not tracer.flush(timeout=0.3)
    store.down = False
    assert tracer.flush(timeout=20)
    stats = tracer.stats()
    assert tracer.close()
    assert set(store.spans) == set(ids)
    assert stats.dropped == 0 and stats.replayed >= 3000 - 150 and stats.store_errors > 0
    # memory held at most the failed batch (50) and the queue (100); the rest came from disk
    # order is preserved across memory and spool paths: the store saw s0..s2999 in sequence
    assert [s.name for s in store.spans.values()] == [f"s{i}" for i in range(3000)]
