"""Trace store benchmark: ingest spans/s (SQLite, PostgreSQL) and latest-page latency with 1M spans.

Run: ``.venv/bin/python benchmarks/bench_store.py [--spans 20000] [--fill 1000000]``. Prints a table and
writes ``benchmarks/results/bench_store.json``. PostgreSQL runs in a throwaway cluster (tests/services.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from services import PostgresCluster
from steadyhand.store import Store, open_store
from steadyhand.tracing.records import SpanRecord, new_span_id, new_trace_id

SYSTEM = "You are a careful assistant for ACME support. Follow the policy below. " * 12
BATCH = 500
SPANS_PER_TRACE = 4
MODELS = ["gpt-4o-mini-2024-07-18", "claude-3-5-haiku-20241022", "llama-3.1-8b"]


def realistic_batch(n: int, start: float) -> list[SpanRecord]:
    """``n`` spans: traces of a flow step with three LLM calls, like the tracer would send."""
    spans: list[SpanRecord] = []
    while len(spans) < n:
        trace_id, root_id = new_trace_id(), new_span_id()
        t = start + len(spans) * 0.001
        spans.append(
            SpanRecord(
                name="answer",
                kind="flow_step",
                trace_id=trace_id,
                span_id=root_id,
                start_time=t,
                end_time=t + 1.2,
                tags={"user": f"u{len(spans) % 50}", "env": "prod"},
            )
        )
        for i in range(SPANS_PER_TRACE - 1):
            spans.append(
                SpanRecord(
                    name="chat",
                    kind="llm",
                    trace_id=trace_id,
                    parent_id=root_id,
                    start_time=t + i * 0.3,
                    end_time=t + i * 0.3 + 0.25,
                    first_token_time=t + i * 0.3 + 0.05,
                    tags={"user": f"u{len(spans) % 50}", "env": "prod"},
                    model_alias="fast",
                    provider="openai",
                    model=MODELS[i],
                    response_model=MODELS[i],
                    request={
                        "messages": [
                            {"role": "system", "content": SYSTEM},
                            {"role": "user", "content": f"Where is my order #{len(spans)}?"},
                        ],
                        "parameters": {"temperature": 0.2, "max_tokens": 256},
                    },
                    response={"text": "Your order shipped yesterday and arrives Friday.", "tool_calls": []},
                    finish_reason="stop",
                    input_tokens=420,
                    output_tokens=12,
                    cached_input_tokens=384,
                    usage_raw={"prompt_tokens": 420, "completion_tokens": 12},
                    cost_usd=0.0000702,
                    price_version="2024-09-01",
                    attributes={"gen_ai.system": "openai"},
                )
            )
    return spans[:n]


def bench_ingest(store: Store, total: int) -> tuple[float, float]:
    """Spans/s, and this process's CPU µs per span in ``write_spans``: the tracer's writer thread spends
    it holding the GIL the application's ``record()`` calls wait for (SQLite's own work counts too)."""
    batches = [realistic_batch(BATCH, time.time() + i) for i in range(total // BATCH)]
    cpu, began = time.process_time(), time.perf_counter()
    for batch in batches:
        store.write_spans(batch)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    return total / wall, cpu / total * 1e6


def fill_sqlite(store: Store, n_spans: int, conn: sa.Connection) -> None:
    """Bulk-load ``n_spans`` spans (``n/4`` traces) in SQL: a recursive CTE, no Python per row."""
    n_traces = n_spans // SPANS_PER_TRACE
    conn.exec_driver_sql("INSERT OR IGNORE INTO projects VALUES ('default', 0)")
    conn.exec_driver_sql(f"""
        WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < {n_traces - 1})
        INSERT INTO traces (id, project, start_time, end_time, root_span_id, root_span_name, status, tags,
            span_count, error_count, input_tokens, output_tokens, cost_usd)
        SELECT printf('%032x', i), 'default', 1.6e9 + i, 1.6e9 + i + 1.2, printf('%016x', i * 4), 'answer',
            CASE WHEN i % 50 = 0 THEN 'error' ELSE 'ok' END, '{{"env":"prod"}}', 4, 0, 1260, 36, 0.0002
        FROM g""")
    conn.exec_driver_sql(f"""
        WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < {n_spans - 1})
        INSERT INTO spans (span_id, trace_id, parent_id, project, name, kind, start_time, end_time, status,
            model, request, response, usage_estimated, input_tokens, output_tokens, cost_usd)
        SELECT printf('%016x', i), printf('%032x', i / 4),
            CASE WHEN i % 4 = 0 THEN NULL ELSE printf('%016x', (i / 4) * 4) END, 'default',
            CASE WHEN i % 4 = 0 THEN 'answer' ELSE 'chat' END,
            CASE WHEN i % 4 = 0 THEN 'flow_step' ELSE 'llm' END, 1.6e9 + i / 4 + (i % 4) * 0.3,
            1.6e9 + i / 4 + (i % 4) * 0.3 + 0.25, 'ok',
            CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN 'gpt-4o-mini-2024-07-18'
                WHEN 2 THEN 'claude-3-5-haiku-20241022'
                ELSE (CASE WHEN i % 1000 = 3 THEN 'rare-model' ELSE 'llama-3.1-8b' END) END,
            '{{"messages":[{{"role":"user","content":"Where is my order #' || i || '?"}}]}}',
            '{{"text":"It shipped."}}', 0, 420, 12, 0.00007
        FROM g""")
    conn.exec_driver_sql(f"""
        WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < {n_spans - 1})
        INSERT INTO span_tags (span_id, key, value, trace_id)
        SELECT printf('%016x', i), 'user', 'u' || (i % 500), printf('%032x', i / 4) FROM g""")
    conn.exec_driver_sql("ANALYZE")


def fill_postgres(store: Store, n_spans: int, conn: sa.Connection) -> None:
    """The same load with ``generate_series``."""
    n_traces = n_spans // SPANS_PER_TRACE
    conn.exec_driver_sql("INSERT INTO projects VALUES ('default', 0) ON CONFLICT DO NOTHING")
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cur.execute(f"""
        INSERT INTO traces (id, project, start_time, end_time, root_span_id, root_span_name, status, tags,
            span_count, error_count, input_tokens, output_tokens, cost_usd)
        SELECT lpad(to_hex(i), 32, '0'), 'default', 1.6e9 + i, 1.6e9 + i + 1.2, lpad(to_hex(i * 4), 16, '0'),
            'answer', CASE WHEN i % 50 = 0 THEN 'error' ELSE 'ok' END, '{{"env":"prod"}}',
            4, 0, 1260, 36, 0.0002
        FROM generate_series(0, {n_traces - 1}) i""")
    cur.execute(f"""
        INSERT INTO spans (span_id, trace_id, parent_id, project, name, kind, start_time, end_time, status,
            model, request, response, usage_estimated, input_tokens, output_tokens, cost_usd)
        SELECT lpad(to_hex(i), 16, '0'), lpad(to_hex(i / 4), 32, '0'),
            CASE WHEN i % 4 = 0 THEN NULL ELSE lpad(to_hex((i / 4) * 4), 16, '0') END, 'default',
            CASE WHEN i % 4 = 0 THEN 'answer' ELSE 'chat' END,
            CASE WHEN i % 4 = 0 THEN 'flow_step' ELSE 'llm' END, 1.6e9 + i / 4 + (i % 4) * 0.3,
            1.6e9 + i / 4 + (i % 4) * 0.3 + 0.25, 'ok',
            CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN 'gpt-4o-mini-2024-07-18'
                WHEN 2 THEN 'claude-3-5-haiku-20241022'
                ELSE (CASE WHEN i % 1000 = 3 THEN 'rare-model' ELSE 'llama-3.1-8b' END) END,
            jsonb_build_object('messages', jsonb_build_array(jsonb_build_object('role', 'user',
                'content', 'Where is my order #' || i || '?'))),
            '{{"text":"It shipped."}}', false, 420, 12, 0.00007
        FROM generate_series(0, {n_spans - 1}) i""")
    cur.execute(f"""
        INSERT INTO span_tags (span_id, key, value, trace_id)
        SELECT lpad(to_hex(i), 16, '0'), 'user', 'u' || (i % 500), lpad(to_hex(i / 4), 32, '0')
        FROM generate_series(0, {n_spans - 1}) i""")
    cur.execute("ANALYZE")


QUERIES: dict[str, dict[str, object]] = {
    "latest page (50)": {},
    "page 2 via cursor": {"cursor": "next"},
    "status=error": {"status": "error"},
    "model (1 in 4 traces)": {"model": "gpt-4o-mini-2024-07-18"},
    "model (rare, 1/1000)": {"model": "rare-model"},
    "tag user=u7": {"tags": {"user": "u7"}},
    "last hour of data": {"since": "recent"},
}


def bench_queries(store: Store, repeats: int) -> dict[str, dict[str, float]]:
    first = store.list_traces(limit=50)
    newest = first.items[0].start_time
    out: dict[str, dict[str, float]] = {}
    for name, raw in QUERIES.items():
        kwargs = dict(raw)
        if kwargs.get("cursor") == "next":
            kwargs["cursor"] = first.next_cursor
        if kwargs.get("since") == "recent":
            kwargs["since"] = newest - 3600
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            page = store.list_traces(limit=50, **kwargs)  # type: ignore[arg-type]
            times.append((time.perf_counter() - began) * 1000)
        assert page.items, name
        times.sort()
        out[name] = {"p50_ms": statistics.median(times), "p95_ms": times[int(len(times) * 0.95) - 1]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=20_000, help="spans to ingest per engine")
    parser.add_argument("--fill", type=int, default=1_000_000, help="spans in the store for the query test")
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp, PostgresCluster() as pg:
        engines = {
            "sqlite": (f"sqlite:///{tmp}/ingest.db", f"sqlite:///{tmp}/fill.db", fill_sqlite),
            "postgresql": (pg.url, pg.create_database("fill"), fill_postgres),
        }
        for name, (ingest_url, fill_url, filler) in engines.items():
            with open_store(ingest_url) as store:
                rate, cpu_us = bench_ingest(store, args.spans)
            with open_store(fill_url) as store:
                engine = sa.create_engine(store.url)
                began = time.perf_counter()
                with engine.begin() as conn:
                    filler(store, args.fill, conn)
                fill_s = time.perf_counter() - began
                engine.dispose()
                queries = bench_queries(store, args.repeats)
            results[name] = {
                "ingest_spans_per_s": rate,
                "ingest_cpu_us_per_span": cpu_us,
                "fill_spans": args.fill,
                "fill_s": fill_s,
                "queries": queries,
            }
    table = Table(
        title=f"trace store: ingest of {args.spans:,} spans in batches of {BATCH}; "
        f"queries over {args.fill:,} spans"
    )
    table.add_column("measure")
    for name in results:
        table.add_column(name, justify="right")
    table.add_row("ingest spans/s", *(f"{r['ingest_spans_per_s']:,.0f}" for r in results.values()))
    table.add_row(
        "write_spans CPU µs per span", *(f"{r['ingest_cpu_us_per_span']:.1f}" for r in results.values())
    )
    table.add_row("bulk fill (s)", *(f"{r['fill_s']:.1f}" for r in results.values()))
    for q in QUERIES:
        table.add_row(
            f"{q}: p50 / p95 ms",
            *(
                f"{r['queries'][q]['p50_ms']:.2f} / {r['queries'][q]['p95_ms']:.2f}"  # type: ignore[index]
                for r in results.values()
            ),
        )
    Console().print(table)
    out = Path(__file__).parent / "results" / "bench_store.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"batch": BATCH, "spans": args.spans, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
