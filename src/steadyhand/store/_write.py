"""Batched, idempotent ingest of span records: one transaction per batch, exactly once per span id.

A lookup of the span ids already stored comes first, and only the others are inserted (on SQLite under
the write lock, with ``ON CONFLICT DO NOTHING`` besides; on PostgreSQL copied, see ``_write_pg``), so a
replayed batch (the tracer replays its spool after a crash) adds nothing; only the spans really
inserted update their trace's summary row, which keeps ``span_count`` and the sums exact under replays.

This runs in the tracer's writer thread, and its Python time holds the GIL the application's
``record()`` calls need: statements are prepared driver SQL (``_write_sql``), rows are plain tuples
built once for either engine, JSON encoded with ``orjson``, and each distinct long string is hashed
once per batch.

The work is cut into steps of ``STEP`` spans (or rows), and the core is offered to other runnable
threads between them (``steadyhand._sched``): the application's requests do not wait behind a batch.

Every parameter is built before the first statement runs, so a value the engine cannot take (found
while encoding: a NUL, a lone surrogate) makes the batch be built again from cleaned copies (``_fit``)
instead of failing half-way; values too long for their column are cut up front.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from .._sched import STEP, offer_core
from ..records import SpanRecord
from ._blobs import BLOB_THRESHOLD, extract_blobs
from ._engine import json_text
from ._fit import TAG_KEY_MAX, TAG_VALUE_MAX, cut, fit, fit_level, text_ok
from ._write_pg import write_postgres
from ._write_sql import SPAN_PLAIN, SqliteSQL

__all__ = ["write_batch"]

_SQLITE = SqliteSQL()


def _row_builder() -> Callable[..., tuple[Any, ...]]:
    """``lambda s, *json: (s.a, s.b, ..., *json)``, the plain columns in ``SPAN_PLAIN`` order, as generated
    code: a literal attribute read costs this interpreter a sixth of ``operator.attrgetter``'s per name
    (every span's every column is read here), and no intermediate tuple is built."""
    assert all(name.isidentifier() for name in SPAN_PLAIN)
    namespace: dict[str, Any] = {}
    exec(
        f"def row(s, a, t, r, p, u):\n    return ({''.join(f's.{n}, ' for n in SPAN_PLAIN)}a, t, r, p, u)\n",
        namespace,
    )
    row: Callable[..., tuple[Any, ...]] = namespace["row"]
    return row


_row = _row_builder()
"""A span's row in ``SPAN_COLUMNS`` order, given its five JSON columns' text."""


@dataclass(slots=True)
class _TraceAcc:
    """One trace's share of a batch, merged into its summary row."""

    project: str
    start_time: float
    end_time: float | None = None
    root_span_id: str | None = None
    root_span_name: str | None = None
    root_status: str | None = None
    tags: dict[str, str] | None = None
    span_count: int = 0
    error_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, s: SpanRecord) -> None:
        if s.start_time < self.start_time:  # min(), without a builtin call per span
            self.start_time = s.start_time
        if s.end_time is not None and (self.end_time is None or s.end_time > self.end_time):
            self.end_time = s.end_time
        if s.parent_id is None:
            self.root_span_id, self.root_span_name, self.root_status = s.span_id, s.name, s.status
            self.tags = dict(s.tags)
        self.span_count += 1
        self.error_count += s.status == "error"
        if s.kind != "attempt":
            self.input_tokens += s.input_tokens or 0
            self.output_tokens += s.output_tokens or 0
            self.cost_usd += s.cost_usd or 0.0

    def row(self, trace_id: str, tags: Any) -> tuple[Any, ...]:
        """The summary row in ``TRACE_COLUMNS`` order, with ``tags`` as the engine takes it."""
        status = self.root_status or ("error" if self.error_count else "ok")
        return (
            trace_id,
            self.project,
            self.start_time,
            self.end_time,
            self.root_span_id,
            self.root_span_name,
            status,
            tags,
            self.span_count,
            self.error_count,
            self.input_tokens,
            self.output_tokens,
            self.cost_usd,
        )


class _Dirty(Exception):
    """The batch holds text an engine refuses (NUL, a lone surrogate): build it again, cleaned."""


def _encode(value: Any, strict: bool = True) -> str:
    """JSON text as stored (compact, non-ASCII kept), with ``orjson``; what it refuses (non-string
    keys, integers past 64 bits, lone surrogates) goes through ``json``. NaN and infinities become
    null. ``strict``: raise ``_Dirty`` on text PostgreSQL refuses (a NUL is written ``\\u0000``)."""
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        text = json_text(value)
        if strict and not text_ok(text):
            raise _Dirty from None
    if strict and "\\u0000" in text:
        raise _Dirty
    return text


def _encode_opt(value: Any, strict: bool = True) -> str | None:
    return None if value is None else _encode(value, strict)


@dataclass(slots=True)
class _Batch:
    """A batch's distinct spans (first occurrence wins) with their requests' blobs swapped out."""

    spans: list[SpanRecord]
    requests: list[Any]
    request_json: list[str | None]
    """The request's JSON text where it was encoded already (short enough to hold no blob), else None."""
    links: list[set[str]]
    digests: dict[str, str]
    """Text → SHA-256 of every long string in the batch's requests."""

    strict: bool
    """Raise ``_Dirty`` on unstorable text; off once the spans were cleaned."""

    @classmethod
    def of(cls, spans: Sequence[SpanRecord], *, strict: bool) -> _Batch:
        by_id: dict[str, SpanRecord] = {}
        for s in spans:
            if s.span_id not in by_id:
                by_id[s.span_id] = s
        digests: dict[str, str] = {}
        requests: list[Any] = []
        request_json: list[str | None] = []
        links: list[set[str]] = []
        dumps, limit, offer = orjson.dumps, BLOB_THRESHOLD, offer_core
        for n, s in enumerate(by_id.values(), 1):
            if not n % STEP:
                offer()
            found: set[str] = set()
            request, text = s.request, None
            if request is not None:
                # JSON text no longer than a blob holds no string as long: no walk needed
                try:
                    text = dumps(request).decode()
                except orjson.JSONEncodeError:  # the walk below, then _encode's fallback
                    text = None
                if text is None or len(text) > limit:
                    text = None
                    request = extract_blobs(request, digests, found)
            requests.append(request)
            request_json.append(text)
            links.append(found)
        if strict and not all(map(text_ok, digests)):
            raise _Dirty
        return cls(list(by_id.values()), requests, request_json, links, digests, strict)

    def blobs(self) -> list[tuple[str, str]]:
        """(hash, text) of every blob, by hash (a fixed lock order for concurrent writers)."""
        return sorted((h, t) for t, h in self.digests.items())


def _traces(spans: Sequence[SpanRecord]) -> list[tuple[str, _TraceAcc]]:
    traces: dict[str, _TraceAcc] = {}
    for s in spans:
        acc = traces.get(s.trace_id)
        if acc is None:
            acc = traces[s.trace_id] = _TraceAcc(project=s.project, start_time=s.start_time)
        acc.add(s)
    return sorted(traces.items())


def _summaries(spans: list[SpanRecord]) -> list[tuple[Any, ...]]:
    """The trace summary rows of ``spans`` (``TRACE_COLUMNS`` order, tags as JSON text), by trace id."""
    return [acc.row(tid, _encode_opt(acc.tags, strict=False)) for tid, acc in _traces(spans)]


def _tag_rows(s: SpanRecord) -> list[tuple[str, str, str, str]]:
    """``span_tags`` rows: keys and values cut to the index's columns (the span keeps them whole).

    Two keys cut to the same text keep the first (SQLite skips the second on conflict; PostgreSQL's
    ``COPY`` would refuse the batch)."""
    sid, tid = s.span_id, s.trace_id
    rows = [
        (
            sid,
            k if len(k) <= TAG_KEY_MAX else cut(k, TAG_KEY_MAX),
            v if len(v) <= TAG_VALUE_MAX else cut(v, TAG_VALUE_MAX),
            tid,
        )
        for k, v in s.tags.items()
    ]
    if len(rows) > 1 and any(len(k) > TAG_KEY_MAX for k in s.tags):
        first: dict[str, tuple[str, str, str, str]] = {}
        for row in rows:
            first.setdefault(row[1], row)
        rows = list(first.values())
    return rows


def _rows(batch: _Batch) -> list[tuple[Any, ...]]:
    """Every span's row; ``orjson`` inline for the common case, ``_encode`` for what it refuses."""
    strict = batch.strict
    dumps, row, offer = orjson.dumps, _row, offer_core
    rows: list[tuple[Any, ...]] = []
    add = rows.append
    for n, (s, request, text) in enumerate(
        zip(batch.spans, batch.requests, batch.request_json, strict=True), 1
    ):
        if not n % STEP:
            offer()
        try:
            attributes = dumps(s.attributes).decode() if s.attributes else None
            tags = dumps(s.tags).decode() if s.tags else None
            if text is None and request is not None:
                text = dumps(request).decode()
            response = None if s.response is None else dumps(s.response).decode()
            usage = None if s.usage_raw is None else dumps(s.usage_raw).decode()
        except orjson.JSONEncodeError:
            add(_slow_row(s, request, strict))
            continue
        if strict and "\\u0000" in f"{attributes}{tags}{text}{response}{usage}":
            raise _Dirty
        add(row(s, attributes, tags, text, response, usage))
    return rows


def _slow_row(s: SpanRecord, request: Any, strict: bool) -> tuple[Any, ...]:
    """A row whose JSON ``orjson`` refused somewhere: each field through ``_encode``."""
    return _row(
        s,
        _encode(s.attributes, strict) if s.attributes else None,
        _encode(s.tags, strict) if s.tags else None,
        _encode_opt(request, strict),
        _encode_opt(s.response, strict),
        _encode_opt(s.usage_raw, strict),
    )


class _SqliteCursor:
    """The write transaction's own ``sqlite3`` cursor: the statements go straight to the driver
    (SQLAlchemy's execution path costs more than a small batch's inserts, six times a batch); a driver
    error leaves as SQLAlchemy's ``DBAPIError``, as through ``exec_driver_sql``, for ``map_errors``."""

    def __init__(self, conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        self.cursor: sqlite3.Cursor = raw.cursor()

    def many(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        """``executemany`` in steps of ``STEP`` rows, the core offered before each."""
        try:
            for start in range(0, len(params), STEP):
                offer_core()
                self.cursor.executemany(sql, params[start : start + STEP])
        except sqlite3.Error as e:
            raise exc.DBAPIError.instance(sql, params, e, sqlite3.Error) from e

    def column(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            return [row[0] for row in self.cursor.execute(sql, params).fetchall()]
        except sqlite3.Error as e:
            raise exc.DBAPIError.instance(sql, params, e, sqlite3.Error) from e


def _write_sqlite(conn: Connection, batch: _Batch, rows: list[tuple[Any, ...]], now: float) -> int:
    """The caller holds the write lock (``BEGIN IMMEDIATE``): look up the stored ids, insert the rest
    and merge the trace summaries of what was new; returns how many spans were."""
    sql, run = _SQLITE, _SqliteCursor(conn)
    try:
        run.many(sql.projects, [(p, now) for p in sorted({s.project for s in batch.spans})])
        ids = orjson.dumps([s.span_id for s in batch.spans]).decode()
        existing = set(run.column(sql.existing, (ids,)))
        new = [i for i, s in enumerate(batch.spans) if s.span_id not in existing]
        if not new:
            return 0
        spans, links = batch.spans, batch.links
        hashes: set[str] = set().union(*(links[i] for i in new))
        if hashes:
            blobs = [(h, t, len(t), now) for h, t in batch.blobs() if h in hashes]
            run.many(sql.blobs, blobs)
        run.many(sql.spans, [rows[i] for i in new] if len(new) < len(rows) else rows)
        tags = [row for i in new if spans[i].tags for row in _tag_rows(spans[i])]
        if tags:
            run.many(sql.tags, tags)
        span_blobs = [(spans[i].span_id, h) for i in new for h in links[i]]
        if span_blobs:
            run.many(sql.span_blobs, span_blobs)
        run.many(sql.traces, _summaries([spans[i] for i in new]))
        return len(new)
    finally:
        run.cursor.close()


def _levels(spans: Sequence[SpanRecord]) -> list[int]:
    levels: list[int] = []
    for start in range(0, len(spans), STEP):
        if start:
            offer_core()
        levels += map(fit_level, spans[start : start + STEP])
    return levels


def _prepare(spans: Sequence[SpanRecord], *, strict: bool) -> tuple[_Batch, list[tuple[Any, ...]]]:
    batch = _Batch.of(spans, strict=strict)
    return batch, _rows(batch)


def write_batch(conn: Connection, spans: Sequence[SpanRecord]) -> int:
    """Write ``spans`` on ``conn`` (inside the caller's write transaction); returns how many were new.

    On SQLite the caller must have begun the transaction with ``BEGIN IMMEDIATE`` (see ``write_conn``).
    """
    if not spans:
        return 0
    levels = _levels(spans)
    if any(levels):
        spans = [fit(s, deep=level > 1) if level else s for s, level in zip(spans, levels, strict=True)]
    now = time.time()
    try:
        batch, rows = _prepare(spans, strict=True)
    except _Dirty:
        batch, rows = _prepare([fit(s, deep=True) for s in spans], strict=False)
    if not batch.spans:
        return 0
    if conn.dialect.name == "postgresql":
        return write_postgres(
            conn,
            batch.spans,
            rows,
            batch.links,
            batch.blobs(),
            tag_rows=_tag_rows,
            summaries=_summaries,
            now=now,
        )
    return _write_sqlite(conn, batch, rows, now)
