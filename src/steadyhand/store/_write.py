"""Batched, idempotent ingest of span records: one transaction per batch, exactly once per span id.

Spans are inserted with ``ON CONFLICT DO NOTHING`` after a lookup of the ids already stored, so a replayed
batch (the tracer replays its spool after a crash) adds nothing; only the spans really inserted update
their trace's summary row, which keeps ``span_count`` and the sums exact under replays.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..tracing.records import SpanRecord
from ._blobs import extract_blobs
from ._engine import dumps
from .models import Blob, Project, Span, SpanBlob, SpanTag, Trace

__all__ = ["write_batch"]

_SPANS = cast(sa.Table, Span.__table__)
_TRACES = cast(sa.Table, Trace.__table__)
_TAGS = cast(sa.Table, SpanTag.__table__)
_SPAN_BLOBS = cast(sa.Table, SpanBlob.__table__)


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

    def row(self, trace_id: str) -> dict[str, Any]:
        status = self.root_status or ("error" if self.error_count else "ok")
        return {
            "id": trace_id,
            "project": self.project,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "root_span_id": self.root_span_id,
            "root_span_name": self.root_span_name,
            "status": status,
            "tags": self.tags,
            "span_count": self.span_count,
            "error_count": self.error_count,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
        }


def _span_row(s: SpanRecord, request: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "span_id": s.span_id,
        "trace_id": s.trace_id,
        "parent_id": s.parent_id,
        "project": s.project,
        "name": s.name,
        "kind": s.kind,
        "start_time": s.start_time,
        "end_time": s.end_time,
        "first_token_time": s.first_token_time,
        "status": s.status,
        "error_type": s.error_type,
        "error_message": s.error_message,
        "attributes": s.attributes or None,
        "tags": s.tags or None,
        "model_alias": s.model_alias,
        "provider": s.provider,
        "model": s.model,
        "response_model": s.response_model,
        "prompt_version": s.prompt_version,
        "request": request,
        "response": s.response,
        "finish_reason": s.finish_reason,
        "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens,
        "cached_input_tokens": s.cached_input_tokens,
        "cache_write_tokens": s.cache_write_tokens,
        "reasoning_tokens": s.reasoning_tokens,
        "usage_estimated": s.usage_estimated,
        "usage_raw": s.usage_raw,
        "cost_usd": s.cost_usd,
        "price_version": s.price_version,
    }


def _insert(conn: Connection, table: Any) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _trace_upsert(conn: Connection) -> Any:
    stmt = _insert(conn, _TRACES)
    new, old = stmt.excluded, _TRACES.c
    has_root = new.root_span_id.is_not(None)
    return stmt.on_conflict_do_update(
        index_elements=[old.id],
        set_={
            "start_time": sa.case((new.start_time < old.start_time, new.start_time), else_=old.start_time),
            "end_time": sa.case(
                (old.end_time.is_(None), new.end_time),
                (new.end_time > old.end_time, new.end_time),
                else_=old.end_time,
            ),
            "root_span_id": sa.func.coalesce(new.root_span_id, old.root_span_id),
            "root_span_name": sa.case((has_root, new.root_span_name), else_=old.root_span_name),
            "tags": sa.case((has_root, new.tags), else_=old.tags),
            "status": sa.case(
                (has_root, new.status),
                (old.root_span_id.is_not(None), old.status),
                (new.status == "error", new.status),
                else_=old.status,
            ),
            "span_count": old.span_count + new.span_count,
            "error_count": old.error_count + new.error_count,
            "input_tokens": old.input_tokens + new.input_tokens,
            "output_tokens": old.output_tokens + new.output_tokens,
            "cost_usd": old.cost_usd + new.cost_usd,
        },
    )


_STAGE = "steadyhand_incoming_spans"


def _insert_spans(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the spans not stored yet; returns the ids really inserted (exact under concurrent writers).

    PostgreSQL: ``COPY`` into a session temp table, then one ``INSERT ... SELECT ... ON CONFLICT DO
    NOTHING RETURNING`` (the conflict check always uses the unique index, whatever the planner's
    statistics say). SQLite: the caller holds the write lock (``BEGIN IMMEDIATE``), so a lookup of the
    ids already stored, then a plain executemany.
    """
    if conn.dialect.name == "postgresql":
        cols = ", ".join(rows[0])
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ON COMMIT DELETE ROWS "
            f"AS SELECT {cols} FROM spans WITH NO DATA"
        )
        _copy(conn, _STAGE, rows, _json_columns(_SPANS))
        query = (
            f"INSERT INTO spans ({cols}) SELECT {cols} FROM {_STAGE} "
            "ON CONFLICT (span_id) DO NOTHING RETURNING span_id"
        )
        return set(conn.exec_driver_sql(query).scalars())
    ids = [r["span_id"] for r in rows]
    existing = set(conn.execute(sa.select(_SPANS.c.span_id).where(_SPANS.c.span_id.in_(ids))).scalars())
    fresh = [r for r in rows if r["span_id"] not in existing]
    _insert_new(conn, _SPANS, fresh)
    return {r["span_id"] for r in fresh}


def _json_columns(table: sa.Table) -> set[str]:
    return {c.name for c in table.c if isinstance(c.type, sa.JSON)}


def _copy(conn: Connection, table: str, rows: list[dict[str, Any]], json_cols: set[str]) -> None:
    cols = list(rows[0])
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([dumps(row[c]) if c in json_cols and row[c] is not None else row[c] for c in cols])


def _insert_new(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows that belong to new spans (tags, blob links): ``COPY`` on PostgreSQL."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy(conn, table.name, rows, _json_columns(table))
    else:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(), rows)


def write_batch(conn: Connection, spans: Sequence[SpanRecord]) -> int:
    """Write ``spans`` on ``conn`` (inside the caller's write transaction); returns how many were new.

    On SQLite the caller must have begun the transaction with ``BEGIN IMMEDIATE`` (see ``write_conn``).
    """
    now = time.time()
    blobs: dict[str, str] = {}
    span_blobs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    by_id: dict[str, SpanRecord] = {}
    for s in spans:
        if s.span_id in by_id:
            continue
        by_id[s.span_id] = s
        found: dict[str, str] = {}
        request = extract_blobs(s.request, found) if s.request is not None else None
        blobs.update(found)
        span_blobs.extend({"span_id": s.span_id, "hash": h} for h in found)
        rows.append(_span_row(s, request))
    if not rows:
        return 0
    projects = sorted({s.project for s in by_id.values()})
    conn.execute(
        _insert(conn, Project.__table__).on_conflict_do_nothing(),
        [{"name": p, "created_at": now} for p in projects],
    )
    if blobs:
        conn.execute(
            _insert(conn, Blob.__table__).on_conflict_do_nothing(),
            [{"hash": h, "content": t, "size": len(t), "created_at": now} for h, t in sorted(blobs.items())],
        )
    inserted = _insert_spans(conn, rows)
    if not inserted:
        return 0
    tags = [
        {"span_id": sid, "key": k, "value": v, "trace_id": by_id[sid].trace_id}
        for sid in inserted
        for k, v in by_id[sid].tags.items()
    ]
    _insert_new(conn, _TAGS, tags)
    _insert_new(conn, _SPAN_BLOBS, [r for r in span_blobs if r["span_id"] in inserted])
    traces: dict[str, _TraceAcc] = {}
    for sid in inserted:
        s = by_id[sid]
        acc = traces.get(s.trace_id)
        if acc is None:
            acc = traces[s.trace_id] = _TraceAcc(project=s.project, start_time=s.start_time)
        acc.add(s)
    conn.execute(_trace_upsert(conn), [acc.row(tid) for tid, acc in sorted(traces.items())])
    return len(inserted)
