"""PostgreSQL: a batch whose new trace another transaction is creating merges into it, no rerun.

The tracer's writer keeps two batches in flight, and a trace's spans are often in both: the second
finds the trace missing, and its copy waits for the first to commit, then trips on the key."""

from __future__ import annotations

import os
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services import PostgresCluster
from steadyhand.store import _store, open_store
from steadyhand.store._write import write_batch
from steadyhand.tracing.records import SpanRecord

from .conftest import llm_span


def _wait_for_lock(conn: Connection) -> None:
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    deadline = time.monotonic() + 30
    while True:
        waiting = conn.execute(query).scalar_one()
        conn.rollback()  # the view is one snapshot per transaction: each poll must read a new one
        if waiting:
            return
        assert time.monotonic() < deadline, "the second writer never waited for the first"
        time.sleep(0.05)


def test_a_trace_another_transaction_creates_is_merged_without_rerunning_the_batch(
    pg_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(pg_cluster.create_database(f"race{os.getpid()}")) as store:
        store.write_spans([llm_span()])  # the project exists: only the trace is contended
        root = llm_span(name="root", kind="flow_step", parent_id=None, input_tokens=1)
        child = llm_span(trace_id=root.trace_id, parent_id=root.span_id, input_tokens=1)
        runs: list[int] = []

        def counted(conn: Connection, spans: list[SpanRecord]) -> int:
            runs.append(len(spans))
            return write_batch(conn, spans)

        monkeypatch.setattr(_store, "write_batch", counted)
        engine = store._engine
        results: list[int] = []
        with engine.connect() as first, engine.connect() as watch:
            tx = first.begin()
            assert write_batch(first, [root]) == 1  # creates the trace, not committed yet
            second = threading.Thread(target=lambda: results.append(store.write_spans([child])))
            second.start()
            _wait_for_lock(watch)
            tx.commit()
            second.join(30)
        assert results == [1] and runs == [1]
        detail = store.get_trace(root.trace_id)
        assert detail is not None
        assert (detail.trace.span_count, detail.trace.input_tokens) == (2, 2)
        assert detail.trace.root_span_name == "root"
