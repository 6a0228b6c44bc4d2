"""Values the database would refuse are made storable on every engine (PostgreSQL refuses NUL, lone
surrogates and strings longer than their column): one bad span must never fail its batch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from steadyhand.errors import StoreError, StoreRejected
from steadyhand.records import SpanRecord
from steadyhand.store import Store
from steadyhand.store._fit import NUL_MARK, TRUNCATED, WRAPPED, tag_key

MakeSpan = Callable[..., SpanRecord]


def test_nul_bytes_anywhere_are_stored_with_a_marker(store: Store, make_span: MakeSpan) -> None:
    bad = make_span(
        name="chat\x00",
        error_message="total\x00 42",
        attributes={"k\x00": "v\x00"},
        tags={"user": "u\x001"},
        request={"messages": [{"role": "user", "content": "total\x00 42 " + "x" * 300}]},
        response={"text": "a\x00b"},
        usage_raw={"note": "\x00"},
        model="gpt\x00",
    )
    good = make_span()
    assert store.write_spans([bad, good]) == 2
    got = store.get_span(bad.span_id)
    assert got is not None
    assert got.name == f"chat{NUL_MARK}"
    assert got.error_message == f"total{NUL_MARK} 42"
    assert got.attributes == {f"k{NUL_MARK}": f"v{NUL_MARK}"}
    assert got.tags == {"user": f"u{NUL_MARK}1"}
    assert got.request is not None
    assert got.request["messages"][0]["content"] == f"total{NUL_MARK} 42 " + "x" * 300
    assert got.response == {"text": f"a{NUL_MARK}b"}
    assert got.model == f"gpt{NUL_MARK}"
    assert store.get_span(good.span_id) is not None


def test_lone_surrogates_are_replaced(store: Store, make_span: MakeSpan) -> None:
    bad = make_span(name="a\ud800b", response={"text": "x\udfff"}, tags={"t": "\ud800"})
    assert store.write_spans([bad]) == 1
    got = store.get_span(bad.span_id)
    assert got is not None
    assert (got.name, got.response, got.tags) == ("a\ufffdb", {"text": "x\ufffd"}, {"t": "\ufffd"})


def test_long_names_and_error_types_are_kept_whole(store: Store, make_span: MakeSpan) -> None:
    span = make_span(name="n" * 5000, error_type="E" * 3000, status="error", parent_id=None)
    assert store.write_spans([span]) == 1
    got = store.get_span(span.span_id)
    assert got is not None
    assert (got.name, got.error_type) == ("n" * 5000, "E" * 3000)
    detail = store.get_trace(span.trace_id)
    assert detail is not None and detail.trace.root_span_name == "n" * 5000


def test_long_tags_are_kept_on_the_span_and_still_filter(store: Store, make_span: MakeSpan) -> None:
    value, key = "v" * 600, "k" * 300
    span = make_span(tags={"user": value, key: "x"})
    assert store.write_spans([span]) == 1
    got = store.get_span(span.span_id)
    assert got is not None and got.tags == {"user": value, key: "x"}
    assert [t.trace_id for t in store.list_traces(tags={"user": value}).items] == [span.trace_id]
    assert [t.trace_id for t in store.list_traces(tags={key: "x"}).items] == [span.trace_id]
    assert store.list_traces(tags={"user": "v" * 599 + "w"}).items == []


def test_a_long_tag_key_cut_to_another_keys_text_keeps_the_span(store: Store, make_span: MakeSpan) -> None:
    """Both keys land on one ``span_tags`` key: the first is indexed, and the span keeps both."""
    key = "k" * 300
    span = make_span(tags={key: "long", tag_key(key): "cut"})
    assert store.write_spans([span]) == 1
    got = store.get_span(span.span_id)
    assert got is not None and got.tags == {key: "long", tag_key(key): "cut"}
    assert [t.trace_id for t in store.list_traces(tags={key: "long"}).items] == [span.trace_id]


def test_over_long_short_columns_are_truncated_with_a_marker(store: Store, make_span: MakeSpan) -> None:
    span = make_span(model="m" * 300, provider="p" * 300, finish_reason="f" * 100, project="P" * 300)
    assert store.write_spans([span]) == 1
    assert store.write_spans([span]) == 0  # still idempotent
    got = store.get_span(span.span_id)
    assert got is not None
    assert got.model is not None and got.model.endswith(TRUNCATED) and len(got.model) == 200
    assert got.provider is not None and got.provider.startswith("ppp") and len(got.provider) == 100
    assert got.finish_reason == "f" * 100


def test_over_long_ids_stay_distinct_and_idempotent(store: Store, make_span: MakeSpan) -> None:
    a, b = make_span(span_id="s" * 100 + "a"), make_span(span_id="s" * 100 + "b")
    assert store.write_spans([a, b]) == 2
    assert store.write_spans([a, b]) == 0


def test_refused_records_and_a_broken_database_are_told_apart(store: Store, make_span: MakeSpan) -> None:
    """``StoreRejected`` (put the span aside) only for the records themselves; the database refusing
    every write for itself (PostgreSQL: a trigger raising; SQLite: a table gone) stays a plain
    ``StoreError`` the tracer retries, never dead-letters."""
    with pytest.raises(StoreRejected):
        store.write_spans([make_span(input_tokens=2**70)])
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as conn:
            if store.dialect == "postgresql":
                conn.exec_driver_sql(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'maintenance: writes are off'; END $$"
                )
                conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON spans EXECUTE FUNCTION refuse()")
            else:
                conn.exec_driver_sql("DROP TABLE span_tags")
    finally:
        engine.dispose()
    with pytest.raises(StoreError) as info:
        store.write_spans([make_span()])
    assert not isinstance(info.value, StoreRejected)


def test_json_fields_of_the_wrong_shape_are_kept_readable(store: Store, make_span: MakeSpan) -> None:
    """A span built by app code with ``attributes=[1, 2]`` is stored, and reading it back still works
    (readers expect objects): the value is kept under ``WRAPPED``."""
    span = make_span(attributes=[1, 2], response="plain text", tags={"n": 1})
    assert store.write_spans([span]) == 1
    got = store.get_span(span.span_id)
    assert got is not None
    assert (got.attributes, got.response, got.tags) == (
        {WRAPPED: [1, 2]},
        {WRAPPED: "plain text"},
        {"n": "1"},
    )
    detail = store.get_trace(span.trace_id)
    assert detail is not None and detail.spans[0].attributes == {WRAPPED: [1, 2]}


def test_sqlite_driver_errors_on_the_write_cursor_are_classified_as_before(tmp_path: Path) -> None:
    """The SQLite batch runs on the driver's cursor: a constraint it raises is still a rejection
    (the span is put aside), a database problem still a plain ``StoreError``."""
    from steadyhand.store import open_store
    from steadyhand.tracing.records import SpanRecord

    with open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        engine = sa.create_engine(store.url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "CREATE TRIGGER refuse BEFORE INSERT ON spans WHEN NEW.name = 'refused' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
                )
        finally:
            engine.dispose()
        with pytest.raises(StoreRejected, match="refused by a trigger"):
            store.write_spans([SpanRecord(name="refused")])
        assert store.write_spans([SpanRecord(name="kept")]) == 1
