"""The SQLite writer works in steps and gives way between them, and checkpoints in small pieces: it often
shares a core with the application, and a thread the kernel will not preempt delays every request that
arrives meanwhile (the figures are in benchmarks/bench_gateway_compare.py; these tests hold the
mechanism)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from steadyhand import _sched
from steadyhand.records import SpanRecord, new_span_id, new_trace_id
from steadyhand.store import open_store
from steadyhand.store._engine import WAL_CHECKPOINT_PAGES


@contextlib.contextmanager
def _giving_back() -> Iterator[None]:
    try:
        yield
    finally:
        _sched.give_way(False)  # the flag is this thread's: leave it as other tests expect


def _spans(n: int) -> list[SpanRecord]:
    out: list[SpanRecord] = []
    for i in range(n):
        out.append(
            SpanRecord(
                name="chat",
                kind="llm",
                trace_id=new_trace_id(),
                span_id=new_span_id(),
                start_time=1.7e9 + i,
                end_time=1.7e9 + i + 0.5,
                tags={"project": "p", "user": f"u{i % 7}"},
                request={"messages": [{"role": "user", "content": f"question {i} " * 20}]},
                response={"text": f"answer {i} " * 20},
            )
        )
    return out


def test_a_batch_gives_way_at_least_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    monkeypatch.setattr(_sched, "_sched_yield", lambda: events.append("offer"))
    _sched.give_way(True)  # as the trace writer does while it keeps up
    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store, _giving_back():
        engine = store._engine

        def trace(dbapi_conn: Any, _record: object) -> None:
            dbapi_conn.set_trace_callback(lambda _sql: events.append("sql"))

        sa.event.listen(engine, "connect", trace)
        engine.dispose()
        events.clear()
        assert store.write_spans(_spans(600)) == 600
    statements = events.count("sql")
    assert statements > 600 * 3  # a row per span, two per span's tags, a summary per trace
    between = [len(list(run)) for kind, run in itertools.groupby(events) if kind == "sql"]
    assert max(between) <= _sched.STEP + 4, max(between)  # + BEGIN, the id lookup, COMMIT
    offers = events.count("offer")
    assert offers >= statements // _sched.STEP


def test_only_a_thread_that_turned_it_on_gives_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off by default: an application's own bulk ``write_spans`` keeps its core."""
    offers: list[str] = []
    monkeypatch.setattr(_sched, "_sched_yield", lambda: offers.append(threading.current_thread().name))

    def work(*settings: bool) -> None:
        for on in settings:
            _sched.give_way(on)
        for _ in range(3):
            _sched.offer_core()

    for name, settings in [("keeping-up", (True,)), ("behind", (True, False))]:
        thread = threading.Thread(target=work, args=settings, name=name)
        thread.start()
        thread.join()
    work()  # this thread never turned it on
    assert offers == ["keeping-up"] * 3


def test_the_wal_is_checkpointed_in_small_pieces(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_store(f"sqlite:///{path}") as store:
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WAL_CHECKPOINT_PAGES
        for _ in range(30):
            store.write_spans(_spans(50))
        wal = path.with_name("s.db-wal").stat().st_size
    # SQLite's default (1,000 pages) would let it grow past 4 MB before the first checkpoint
    assert wal < 3 * WAL_CHECKPOINT_PAGES * 4200, wal
