"""Batched, idempotent ingest of span records: one transaction per batch, exactly once per span id.

Spans are inserted with ``ON CONFLICT DO NOTHING`` (after a lookup of the ids already stored on SQLite),
so a replayed batch (the tracer replays its spool after a crash) adds nothing; only the spans really
inserted update their trace's summary row, which keeps ``span_count`` and the sums exact under replays.

This runs in the tracer's writer thread, and its Python time holds the GIL the application's
``record()`` calls need: statements are prepared driver SQL (``_write_sql``), rows are plain tuples
(SQLite) or one JSON document per table (PostgreSQL) encoded with ``orjson``, and each distinct long
string is hashed once per batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from ..records import SpanRecord
from ._blobs import extract_blobs
from ._engine import dumps
from ._write_sql import SPAN_PLAIN, TRACE_COLUMNS, PostgresSQL, SqliteSQL

__all__ = ["write_batch"]

_SQLITE = SqliteSQL()
_POSTGRES = PostgresSQL()
_plain = attrgetter(*SPAN_PLAIN)
"""A span's non-JSON column values as a tuple, in ``SPAN_PLAIN`` order (one C call)."""


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
        self.start_time = min(self.start_time, s.start_time)
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


def _encode(value: Any) -> str:
    """JSON text as stored (compact, non-ASCII kept), with ``orjson``; what it refuses (non-string
    keys, integers past 64 bits) goes through ``json`` as before. NaN and infinities become null."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return dumps(value)


def _encode_opt(value: Any) -> str | None:
    return None if value is None else _encode(value)


@dataclass(slots=True)
class _Batch:
    """A batch's distinct spans (first occurrence wins) with their requests' blobs swapped out."""

    spans: list[SpanRecord]
    requests: list[Any]
    links: list[set[str]]
    digests: dict[str, str]
    """Text → SHA-256 of every long string in the batch's requests."""

    @classmethod
    def of(cls, spans: Sequence[SpanRecord]) -> _Batch:
        by_id: dict[str, SpanRecord] = {}
        for s in spans:
            if s.span_id not in by_id:
                by_id[s.span_id] = s
        digests: dict[str, str] = {}
        requests: list[Any] = []
        links: list[set[str]] = []
        for s in by_id.values():
            found: set[str] = set()
            requests.append(None if s.request is None else extract_blobs(s.request, digests, found))
            links.append(found)
        return cls(list(by_id.values()), requests, links, digests)

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


def _write_sqlite(conn: Connection, batch: _Batch, now: float) -> list[SpanRecord]:
    """The caller holds the write lock (``BEGIN IMMEDIATE``): look up the stored ids, insert the rest."""
    sql = _SQLITE
    conn.exec_driver_sql(sql.projects, [(p, now) for p in sorted({s.project for s in batch.spans})])
    ids = orjson.dumps([s.span_id for s in batch.spans]).decode()
    existing = set(conn.exec_driver_sql(sql.existing, (ids,)).scalars().all())
    new = [i for i, s in enumerate(batch.spans) if s.span_id not in existing]
    if not new:
        return []
    spans, requests, links = batch.spans, batch.requests, batch.links
    hashes: set[str] = set().union(*(links[i] for i in new))
    if hashes:
        blobs = [(h, t, len(t), now) for h, t in batch.blobs() if h in hashes]
        conn.exec_driver_sql(sql.blobs, blobs)
    rows = [
        (
            *_plain(s),
            _encode(s.attributes) if s.attributes else None,
            _encode(s.tags) if s.tags else None,
            _encode_opt(requests[i]),
            _encode_opt(s.response),
            _encode_opt(s.usage_raw),
        )
        for i in new
        for s in (spans[i],)
    ]
    conn.exec_driver_sql(sql.spans, rows)
    tags = [(s.span_id, k, v, s.trace_id) for i in new for s in (spans[i],) for k, v in s.tags.items()]
    if tags:
        conn.exec_driver_sql(sql.tags, tags)
    span_blobs = [(spans[i].span_id, h) for i in new for h in links[i]]
    if span_blobs:
        conn.exec_driver_sql(sql.span_blobs, span_blobs)
    return [spans[i] for i in new]


def _write_postgres(conn: Connection, batch: _Batch, now: float) -> list[SpanRecord]:
    """Spans, tags and blob links in one statement whose ``RETURNING`` says which spans were new."""
    sql = _POSTGRES
    conn.exec_driver_sql(sql.projects, (now, sorted({s.project for s in batch.spans})))
    if batch.digests:
        blobs = [{"hash": h, "content": t, "size": len(t), "created_at": now} for h, t in batch.blobs()]
        conn.exec_driver_sql(sql.blobs, (_encode(blobs),))
    spans, requests = batch.spans, batch.requests
    rows = [
        dict(
            zip(SPAN_PLAIN, _plain(s), strict=True),
            attributes=s.attributes or None,
            tags=s.tags or None,
            request=requests[i],
            response=s.response,
            usage_raw=s.usage_raw,
        )
        for i, s in enumerate(spans)
    ]
    tags = [
        {"span_id": s.span_id, "key": k, "value": v, "trace_id": s.trace_id}
        for s in spans
        for k, v in s.tags.items()
    ]
    links = [
        {"span_id": s.span_id, "hash": h} for s, found in zip(spans, batch.links, strict=True) for h in found
    ]
    params = (_encode(rows), _encode(tags), _encode(links))
    inserted = set(conn.exec_driver_sql(sql.spans, params).scalars().all())
    return [s for s in spans if s.span_id in inserted]


def write_batch(conn: Connection, spans: Sequence[SpanRecord]) -> int:
    """Write ``spans`` on ``conn`` (inside the caller's write transaction); returns how many were new.

    On SQLite the caller must have begun the transaction with ``BEGIN IMMEDIATE`` (see ``write_conn``).
    """
    batch = _Batch.of(spans)
    if not batch.spans:
        return 0
    now = time.time()
    if conn.dialect.name == "postgresql":
        new = _write_postgres(conn, batch, now)
        if new:
            rows = [
                dict(zip(TRACE_COLUMNS, acc.row(tid, acc.tags), strict=True)) for tid, acc in _traces(new)
            ]
            conn.exec_driver_sql(_POSTGRES.traces, (_encode(rows),))
    else:
        new = _write_sqlite(conn, batch, now)
        if new:
            conn.exec_driver_sql(
                _SQLITE.traces, [acc.row(tid, _encode_opt(acc.tags)) for tid, acc in _traces(new)]
            )
    return len(new)
