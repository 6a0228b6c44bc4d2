"""Several apps starting at once on a fresh database all open it: the migration runs under a lock
(an advisory lock on PostgreSQL, the write lock on SQLite) and the others wait, then find it done."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from steadyhand.store._migrate import head_revision

N = 10
_APP = """
import pathlib, sys, time
from steadyhand.store import open_store
ready, go = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.001)
with open_store(sys.argv[1]) as store:
    store.list_traces()
print("ok")
"""


def test_apps_starting_at_once_all_open_a_fresh_database(empty_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _APP, empty_url, str(tmp_path / f"ready{i}"), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for i in range(N)
    ]
    try:
        end = time.monotonic() + 120
        while sum((tmp_path / f"ready{i}").exists() for i in range(N)) < N and time.monotonic() < end:
            time.sleep(0.01)
        go.touch()  # all imported: they race for the migration from here
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    failures = [err.decode()[-600:] for (out, err) in results if out.decode().strip() != "ok"]
    assert failures == [], f"{len(failures)} of {N} apps failed to open the store:\n" + "\n".join(failures)
    engine = sa.create_engine(empty_url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    finally:
        engine.dispose()
