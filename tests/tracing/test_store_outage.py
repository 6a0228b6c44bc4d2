"""The real PostgreSQL store stops under traffic: record() stays fast, and every span arrives after."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from services import PostgresCluster, ServiceMissing
from steadyhand.store import open_store
from steadyhand.tracing import SpanRecord, Tracer


def _span(i: int) -> SpanRecord:
    return SpanRecord(
        name="chat",
        kind="llm",
        model="gpt-4o-mini",
        input_tokens=30,
        output_tokens=8,
        tags={"user": f"u{i % 7}"},
        request={"messages": [{"role": "user", "content": f"question {i}"}]},
        response={"text": f"answer {i}"},
    )


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Event-driven steps: wait for the state the test needs, however slow the machine (hangs fail)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def test_postgres_down_under_traffic_then_everything_arrives(tmp_path: Path) -> None:
    try:
        pg = PostgresCluster()
    except ServiceMissing as e:
        pytest.fail(f"{e}{' (CI)' if os.environ.get('CI') else ''}", pytrace=False)
    with pg:
        store = open_store(pg.url, query_timeout=2)
        tracer = Tracer(
            store, spool_dir=tmp_path / "spool", max_queue=200, flush_interval=0.05, exit_timeout=None
        )
        ids: list[str] = []
        stop = threading.Event()

        def traffic() -> None:  # up to ~500 calls/s
            i = 0
            while not stop.is_set():
                span = _span(i)
                tracer.record(span)
                ids.append(span.span_id)
                i += 1
                time.sleep(0.002)

        app = threading.Thread(target=traffic)
        app.start()
        try:
            _wait_until(lambda: len(ids) >= 250 and tracer.stats().written > 0, "traffic reaches the store")
            pg.stop()
            down_at = len(ids)
            _wait_until(lambda: tracer.stats().store_errors > 0, "the writer sees the store down")
            _wait_until(lambda: len(ids) - down_at >= 500, "the app keeps recording while the store is down")
            pg.start()
            back_at = len(ids)
            _wait_until(lambda: len(ids) - back_at >= 100, "the app keeps recording after")
        finally:
            stop.set()
            app.join()
        assert tracer.flush(timeout=30), tracer.stats()
        stats = tracer.stats()
        tracer.close()
        store.close()

        # record()'s latency during the outage is a benchmark figure (benchmarks/bench_tracer_faults.py)
        assert stats.dropped == 0 and stats.enqueued == len(ids)
        with psycopg.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname=pg.database) as conn:
            rows = conn.execute("SELECT span_id, count(*) FROM spans GROUP BY span_id").fetchall()
        stored: dict[str, int] = dict(rows)
        assert [i for i in ids if i not in stored] == []
        assert max(stored.values()) == 1 and len(stored) == len(ids)
