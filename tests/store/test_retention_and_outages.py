"""Retention (prune, archive, blob cleanup) and a database that goes down and comes back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from services import PostgresCluster
from steadyhand.errors import StoreError
from steadyhand.store import Store, open_store
from steadyhand.tracing.records import SpanRecord

MakeSpan = Callable[..., SpanRecord]


def test_prune_archives_then_deletes_old_traces_and_their_blobs(
    store: Store, make_span: MakeSpan, tmp_path: Path
) -> None:
    now = time.time()
    old = make_span(
        start_time=now - 40 * 86400, request={"messages": [{"role": "user", "content": "o" * 300}]}
    )
    old_child = make_span(trace_id=old.trace_id, parent_id=old.span_id, start_time=now - 40 * 86400)
    new = make_span(start_time=now - 3600)
    store.write_spans([old, old_child, new])
    archive = tmp_path / "archive" / "old.jsonl"
    result = store.prune(timedelta(days=30), archive_to=archive)
    assert (result.traces, result.spans, result.blobs) == (1, 2, 1)  # the "o"*300 blob; the shared one stays
    assert store.get_trace(old.trace_id) is None and store.get_span(old_child.span_id) is None
    assert store.get_trace(new.trace_id) is not None
    kept = store.get_span(new.span_id)
    assert kept is not None and kept.request == new.request
    lines = archive.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["trace"]["trace_id"] == old.trace_id
    assert {s["span_id"] for s in record["spans"]} == {old.span_id, old_child.span_id}
    assert record["spans"][0]["request"]["messages"][0]["content"] == "o" * 300
    assert store.prune(timedelta(days=30)).traces == 0


def test_store_error_while_postgres_is_down_then_recovery(make_span: MakeSpan) -> None:
    with PostgresCluster() as pg:
        store = open_store(pg.url)
        try:
            store.write_spans([make_span()])
            pg.stop()
            began = time.monotonic()
            with pytest.raises(StoreError, match="cannot reach the database at .*STEADYHAND_DATABASE_URL"):
                store.write_spans([make_span()])
            with pytest.raises(StoreError):
                store.list_traces()
            assert time.monotonic() - began < 5
            pg.start()
            assert store.write_spans([make_span()]) == 1
            assert len(store.list_traces().items) == 2
        finally:
            store.close()


def test_unreachable_url_fails_fast_with_an_actionable_message() -> None:
    began = time.monotonic()
    with pytest.raises(
        StoreError, match="cannot reach the database .*start it or set STEADYHAND_DATABASE_URL"
    ):
        open_store("postgresql://nobody@127.0.0.1:1/none")
    assert time.monotonic() - began < 5


def test_tables_missing_says_to_upgrade(empty_url: str, make_span: MakeSpan) -> None:
    with (
        open_store(empty_url, migrate=False) as store,
        pytest.raises(StoreError, match="steadyhand db upgrade"),
    ):
        store.write_spans([make_span()])


def test_unsupported_url_is_rejected() -> None:
    with pytest.raises(StoreError, match="unsupported database URL"):
        open_store("mysql://root:secret@localhost/x")


def test_a_database_path_under_a_regular_file_is_a_store_error(tmp_path: Path) -> None:
    """Not a raw FileExistsError: the prompt registry, the tracer and the CLI all catch StoreError."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the directory for the trace database"):
        open_store(f"sqlite:///{blocker / 'traces.db'}")
