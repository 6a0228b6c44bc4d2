"""Ingest details the fast write path must keep: JSON as stored, summaries merged across any batching,
the blob walk, and the statements' columns matching the model."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from steadyhand.store import Store
from steadyhand.store._blobs import BLOB_KEY, extract_blobs
from steadyhand.store._write_sql import SPAN_COLUMNS, SPAN_JSON
from steadyhand.store.models import spans
from steadyhand.tracing.records import SpanRecord

MakeSpan = Callable[..., SpanRecord]


def test_statements_set_every_span_column_but_the_sequence() -> None:
    assert sorted(SPAN_COLUMNS) == sorted(c.name for c in spans.columns if c.name != "seq")
    assert SPAN_COLUMNS[-len(SPAN_JSON) :] == SPAN_JSON


def test_values_orjson_refuses_and_non_ascii_text_round_trip(store: Store, make_span: MakeSpan) -> None:
    span = make_span(
        attributes={"big": 2**70, "nested": {"n": -(2**65)}},
        usage_raw={"1": 3, "détails": "ünïcode ✓"},
        response={"text": "naïve café — 東京", "tool_calls": []},
    )
    odd = make_span(trace_id=span.trace_id, attributes={1: "int key", "ok": True})
    assert store.write_spans([span, odd]) == 2
    got = store.get_span(span.span_id)
    assert got is not None
    assert got.attributes == span.attributes and got.usage_raw == span.usage_raw
    assert got.response == span.response
    other = store.get_span(odd.span_id)
    assert other is not None and other.attributes == {"1": "int key", "ok": True}
    found = store.list_traces(search="東京")
    assert [t.trace_id for t in found.items] == [span.trace_id]


def test_summaries_are_exact_whatever_the_batching(store: Store, make_span: MakeSpan) -> None:
    rng = random.Random(7)
    spans: list[SpanRecord] = []
    for t in range(12):
        root = make_span(name=f"root{t}", kind="flow_step", start_time=1000.0 + t, tags={"t": str(t)})
        spans.append(root)
        for c in range(rng.randint(0, 5)):
            spans.append(
                make_span(
                    trace_id=root.trace_id,
                    parent_id=root.span_id,
                    start_time=999.0 + t + c,
                    status=rng.choice(["ok", "error"]),
                    kind=rng.choice(["llm", "attempt"]),
                    input_tokens=rng.randint(0, 500),
                )
            )
    order = spans[:]
    rng.shuffle(order)
    written = 0
    while order:  # overlapping batches with duplicates inside and replays across
        size = rng.randint(1, 9)
        batch = order[:size] + rng.sample(spans, 3)
        written += store.write_spans(batch + batch[:2])
        order = order[size:]
    assert written == len(spans)
    for root in (s for s in spans if s.parent_id is None):
        mine = [s for s in spans if s.trace_id == root.trace_id]
        detail = store.get_trace(root.trace_id)
        assert detail is not None
        got = detail.trace
        priced = [s for s in mine if s.kind != "attempt"]
        assert got.span_count == len(mine)
        assert got.error_count == sum(s.status == "error" for s in mine)
        assert got.input_tokens == sum(s.input_tokens or 0 for s in priced)
        assert got.start_time == min(s.start_time for s in mine)
        assert got.end_time == max(s.end_time or 0.0 for s in mine)
        assert (got.root_span_name, got.status, got.tags) == (root.name, "ok", root.tags)


def test_a_trace_without_its_root_has_no_tags(store: Store, make_span: MakeSpan) -> None:
    child = make_span(parent_id="ab" * 8)
    store.write_spans([child])
    detail = store.get_trace(child.trace_id)
    assert detail is not None and detail.trace.root_span_name is None
    assert _raw(store, "SELECT tags FROM traces") == [(None,)]


def test_blob_walk_hashes_each_text_once_and_leaves_the_input_alone() -> None:
    long = "x" * 300
    request: dict[str, Any] = {
        "messages": [{"role": "system", "content": long}, {"role": "user", "content": "hi"}],
        "n": 1,
    }
    digests: dict[str, str] = {}
    first: set[str] = set()
    out = extract_blobs(request, digests, first)
    assert isinstance(out, dict)
    second: set[str] = set()
    again = extract_blobs({"docs": [long, long[:-1] + "y"], "t": (long,)}, digests, second)
    assert isinstance(again, dict)
    assert out["messages"][0]["content"] == {BLOB_KEY: next(iter(first))}
    assert out["messages"][1] == {"role": "user", "content": "hi"} and out["n"] == 1
    assert request["messages"][0]["content"] == long  # a copy, never the caller's dict changed
    assert len(digests) == 2 and first < second
    assert again["docs"][0] == out["messages"][0]["content"] and again["t"] == (long,)


def test_nulls_and_booleans_bind_through_registered_adapters_and_store_as_before(tmp_path: Any) -> None:
    """sqlite3 looks a None or a bool up as an adapter and, finding none, raises and clears two
    AttributeErrors per value (a third of the tracer writer's time); the store registers adapters that
    keep each value: NULL stays NULL, a bool stays its integer."""
    import sqlite3

    import steadyhand.store  # noqa: F401 - registering is part of importing the store

    assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters
    assert (bool, sqlite3.PrepareProtocol) in sqlite3.adapters
    conn = sqlite3.connect(tmp_path / "adapted.db")
    conn.execute("CREATE TABLE t (a, b, c)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [(None, True, False)])
    assert conn.execute("SELECT a IS NULL, typeof(a), b, typeof(b), c FROM t").fetchall() == [
        (1, "null", 1, "integer", 0)
    ]


def test_an_adapter_the_app_registered_first_is_kept() -> None:
    import subprocess
    import sys

    code = (
        "import sqlite3; sqlite3.register_adapter(bool, lambda b: 'yes' if b else 'no'); "
        "import steadyhand.store; "
        "print(sqlite3.connect(':memory:').execute('SELECT ?', (True,)).fetchone()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "yes"


def test_requests_are_stored_as_the_blob_walk_makes_them_whatever_their_size(
    store: Store, make_span: MakeSpan
) -> None:
    """A request whose JSON is no longer than a blob skips the walk (it cannot hold a long string):
    around the threshold, and for values ``orjson`` refuses, the stored text is what the walk gives."""
    from steadyhand.store._blobs import BLOB_THRESHOLD
    from steadyhand.store._engine import json_text
    from steadyhand.store._write import _encode

    requests: list[dict[Any, Any]] = [
        {"m": "short"},
        {"m": "y" * (BLOB_THRESHOLD - 12)},  # JSON just under the threshold
        {"m": "y" * BLOB_THRESHOLD},  # JSON over it, the string not: no blob
        {"m": "y" * (BLOB_THRESHOLD + 1), "n": [1, "z" * (BLOB_THRESHOLD + 1)]},
        {1: "non-string key", "m": "x" * (BLOB_THRESHOLD + 1)},  # orjson refuses: the walk, then json
    ]
    made = [make_span(request=r) for r in requests]
    store.write_spans(made)
    rows = _raw(store, "SELECT span_id, request FROM spans")
    got: dict[str, Any] = {row[0]: row[1] for row in rows}
    texts = []
    for span, request in zip(made, requests, strict=True):
        want = _encode(extract_blobs(request, {}, set()))
        stored = got[span.span_id]
        text = stored if isinstance(stored, str) else json_text(stored)  # jsonb comes back parsed
        assert text == want if store.url.startswith("sqlite") else json.loads(text) == json.loads(want)
        texts.append(text)
    assert sum(BLOB_KEY in text for text in texts) == 2


def _raw(store: Store, sql: str) -> list[Any]:
    """The rows of ``sql`` as the database holds them (the store's own reads decode JSON)."""
    engine = sa.create_engine(store.url)
    try:
        with engine.connect() as conn:
            return list(conn.exec_driver_sql(sql).all())
    finally:
        engine.dispose()
