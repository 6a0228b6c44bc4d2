"""The real PostgreSQL store stops under traffic: record() stays fast, and every span arrives after."""

from __future__ import annotations

import os
import threading
import time
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
        latencies: list[float] = []
        stop = threading.Event()

        def traffic() -> None:  # ~500 calls/s
            i = 0
            while not stop.is_set():
                span = _span(i)
                t0 = time.perf_counter()
                tracer.record(span)
                latencies.append(time.perf_counter() - t0)
                ids.append(span.span_id)
                i += 1
                time.sleep(0.002)

        app = threading.Thread(target=traffic)
        app.start()
        try:
            time.sleep(0.5)
            pg.stop()
            down_at = len(ids)
            time.sleep(1.5)
            assert tracer.stats().store_errors > 0, "the writer should have seen the store down"
            during = len(ids) - down_at
            pg.start()
            time.sleep(0.3)
        finally:
            stop.set()
            app.join()
        assert during > 200, "the app kept answering while the store was down"
        assert tracer.flush(timeout=30), tracer.stats()
        stats = tracer.stats()
        tracer.close()
        store.close()

        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        assert p99 < 0.005, f"record() p99 {p99 * 1e6:.0f} µs while the store was down"
        assert stats.dropped == 0 and stats.enqueued == len(ids)
        with psycopg.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname=pg.database) as conn:
            rows = conn.execute("SELECT span_id, count(*) FROM spans GROUP BY span_id").fetchall()
        stored = dict(rows)
        assert [i for i in ids if i not in stored] == []
        assert max(stored.values()) == 1 and len(stored) == len(ids)
