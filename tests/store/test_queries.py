"""Listing: every filter, keyset pagination without duplicates or gaps, the query time bound."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from steadyhand.errors import ConfigurationError, StoreError
from steadyhand.store import Store, open_store
from steadyhand.tracing.records import SpanRecord

MakeSpan = Callable[..., SpanRecord]


def _trace(make_span: MakeSpan, start: float, **child: object) -> list[SpanRecord]:
    root = make_span(name=f"root-{start:g}", kind="flow_step", start_time=start, request=None, tags={})
    return [root, make_span(trace_id=root.trace_id, parent_id=root.span_id, start_time=start + 0.1, **child)]


@pytest.fixture
def filled(store: Store, make_span: MakeSpan) -> dict[str, str]:
    """Five traces with distinct traits; returns trait → trace id."""
    traces = {
        "plain": _trace(make_span, 1000.0),
        "other_model": _trace(make_span, 1001.0, model="claude-3-5-haiku-20241022", model_alias="cheap"),
        "error": _trace(make_span, 1002.0, status="error", error_type="ServerError"),
        "tool": _trace(make_span, 1003.0, kind="tool", tags={"user": "u2"}, project="default"),
        "search": _trace(make_span, 1004.0, response={"text": "The Zanzibar Protocol"}),
    }
    traces["error"][0].status = "error"
    other = _trace(make_span, 1005.0)
    for s in other:
        s.project = "billing"
    traces["billing"] = other
    for spans in traces.values():
        store.write_spans(spans)
    return {k: v[0].trace_id for k, v in traces.items()}


def _ids(store: Store, **filters: object) -> set[str]:
    return {t.trace_id for t in store.list_traces(**filters).items}  # type: ignore[arg-type]


def test_every_filter(store: Store, filled: dict[str, str]) -> None:
    everything = set(filled.values())
    assert _ids(store) == everything
    assert _ids(store, model="claude-3-5-haiku-20241022") == {filled["other_model"]}
    assert _ids(store, model="cheap") == {filled["other_model"]}
    assert _ids(store, status="error") == {filled["error"]}
    assert _ids(store, kind="tool") == {filled["tool"]}
    assert _ids(store, tags={"user": "u2"}) == {filled["tool"]}
    assert _ids(store, tags={"user": "u1", "feature": "summarize"}) == everything - {filled["tool"]}
    assert _ids(store, tags={"user": "nobody"}) == set()
    assert _ids(store, project="billing") == {filled["billing"]}
    assert _ids(store, since=1002.0, until=1004.0) == {filled["error"], filled["tool"]}
    as_dt = datetime.fromtimestamp(1004.0, tz=UTC)
    assert _ids(store, since=as_dt) == {filled["search"], filled["billing"]}
    assert _ids(store, search="zanzibar") == {filled["search"]}
    assert _ids(store, search="you are terse") == everything  # inside the blob-stored system prompt
    assert _ids(store, search="50%_off") == set()  # LIKE wildcards are escaped
    assert _ids(store, kind="tool", status="error") == set()


def test_bad_arguments_say_what_to_fix(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="search text"):
        store.list_traces(search="x" * 500)
    with pytest.raises(ConfigurationError, match="limit"):
        store.list_traces(limit=0)
    with pytest.raises(ConfigurationError, match="cursor"):
        store.list_traces(cursor="nonsense")


def test_pages_have_no_duplicates_or_gaps(store: Store, make_span: MakeSpan) -> None:
    spans = [make_span(start_time=5000.0 + i // 3) for i in range(47)]  # ties on start_time
    store.write_spans(spans)
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_traces(limit=10, cursor=cursor)
        seen += [t.trace_id for t in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 47
    assert set(seen) == {s.trace_id for s in spans}
    starts = [store.get_trace(t).trace.start_time for t in seen]  # type: ignore[union-attr]
    assert starts == sorted(starts, reverse=True)


def test_the_query_time_bound_fires(store: Store, make_span: MakeSpan) -> None:
    store.write_spans([make_span(start_time=float(i)) for i in range(3000)])
    with open_store(store.url, query_timeout=0.001) as hurried:
        with pytest.raises(StoreError, match="query took longer than 0.001 s; narrow the filter"):
            for _ in range(20):  # one run may finish inside a millisecond on a fast machine
                hurried.list_traces(search="never-there", limit=1000)
        assert store.list_traces(search="never-there").items == []
