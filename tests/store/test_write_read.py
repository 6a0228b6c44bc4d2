"""Ingest: round trip of every field, idempotent replays, blob dedupe, trace summaries, tail."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import sqlalchemy as sa

from steadyhand.store import Store
from steadyhand.store.models import blobs, span_blobs, span_tags, spans
from steadyhand.tracing.records import SpanRecord

MakeSpan = Callable[..., SpanRecord]


def _count(store: Store, table: sa.Table) -> int:
    engine = sa.create_engine(store.url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def test_round_trip_of_a_full_llm_span(store: Store, make_span: MakeSpan) -> None:
    span = make_span(error_type="RateLimited", error_message="slow down", status="error")
    assert store.write_spans([span]) == 1
    got = store.get_span(span.span_id)
    assert got is not None
    expected = dataclasses.asdict(span)
    assert got.model_dump(exclude={"seq"}) == expected
    assert got.duration_ms == span.duration_ms and got.ttft_ms == span.ttft_ms
    assert store.get_span("0" * 16) is None


def test_rewriting_the_same_batch_stores_each_span_once(store: Store, make_span: MakeSpan) -> None:
    root = make_span(name="root", kind="flow_step", request=None, cost_usd=None, input_tokens=None)
    batch = [root] + [make_span(trace_id=root.trace_id, parent_id=root.span_id) for _ in range(3)]
    assert store.write_spans(batch) == 4
    assert store.write_spans(batch) == 0
    extra = make_span(trace_id=root.trace_id)
    assert store.write_spans([batch[1], batch[1], extra]) == 1
    assert _count(store, spans) == 5
    assert _count(store, span_tags) == 5 * 2
    trace = store.get_trace(root.trace_id)
    assert trace is not None
    assert trace.trace.span_count == 5
    assert trace.trace.input_tokens == 4 * 120
    assert abs(trace.trace.cost_usd - 4 * 0.000021) < 1e-12
    assert [n.span.span_id for n in trace.roots] == [root.span_id, extra.span_id]
    assert len(trace.roots[0].children) == 3


def test_long_shared_content_is_stored_once(store: Store, make_span: MakeSpan) -> None:
    a, b = make_span(), make_span()
    assert a.request == b.request
    store.write_spans([a])
    store.write_spans([b])
    assert _count(store, blobs) == 1
    assert _count(store, span_blobs) == 2
    got = store.get_span(b.span_id)
    assert got is not None and got.request == b.request
    long_system = "You are terse. " * 40
    assert got.request is not None and got.request["messages"][0]["content"] == long_system


def test_trace_summary_follows_the_root_span(store: Store, make_span: MakeSpan) -> None:
    root = make_span(name="answer", kind="flow_step", tags={"env": "prod"}, start_time=1000.0)
    child = make_span(trace_id=root.trace_id, parent_id=root.span_id, status="error", start_time=999.0)
    store.write_spans([child])
    early = store.get_trace(root.trace_id)
    assert early is not None and early.trace.status == "error" and early.trace.root_span_name is None
    store.write_spans([root])
    late = store.get_trace(root.trace_id)
    assert late is not None
    assert (late.trace.status, late.trace.root_span_name, late.trace.tags) == (
        "ok",
        "answer",
        {"env": "prod"},
    )
    assert (late.trace.start_time, late.trace.end_time) == (999.0, 1000.8)
    assert (late.trace.span_count, late.trace.error_count) == (2, 1)


def test_tail_follows_ingestion_order(store: Store, make_span: MakeSpan) -> None:
    first = store.tail()
    assert first.spans == []
    spans = [make_span(start_time=2000.0 - i) for i in range(5)]
    store.write_spans(spans[:3])
    page = store.tail(since=first.cursor, limit=2)
    assert [s.span_id for s in page.spans] == [s.span_id for s in spans[:2]]
    store.write_spans(spans[3:])
    rest = store.tail(since=page.cursor)
    assert [s.span_id for s in rest.spans] == [s.span_id for s in spans[2:]]
    assert store.tail(since=rest.cursor).spans == []


def test_concurrent_writers_of_the_same_batch_store_it_once(store: Store, make_span: MakeSpan) -> None:
    root = make_span(name="root", kind="flow_step")
    batch = [root] + [make_span(trace_id=root.trace_id, parent_id=root.span_id) for _ in range(199)]
    results: list[int] = []

    def write() -> None:
        results.append(store.write_spans(batch))

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 0, 0, 200]
    trace = store.get_trace(root.trace_id)
    assert trace is not None and trace.trace.span_count == 200 and len(trace.spans) == 200


def test_concurrent_writers_of_one_new_trace_sum_into_one_summary(store: Store, make_span: MakeSpan) -> None:
    """Each writer finds the trace missing; all but one lose the race to create it and merge instead."""
    root = make_span(name="root", kind="flow_step", input_tokens=1)
    batches = [[root]] + [
        [make_span(trace_id=root.trace_id, parent_id=root.span_id, input_tokens=1) for _ in range(100)]
        for _ in range(4)
    ]
    results: list[int] = []
    threads = [threading.Thread(target=lambda b=b: results.append(store.write_spans(b))) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [1, 100, 100, 100, 100]
    trace = store.get_trace(root.trace_id)
    assert trace is not None
    assert (trace.trace.span_count, trace.trace.input_tokens, len(trace.spans)) == (401, 401, 401)
    assert trace.trace.root_span_name == "root"
