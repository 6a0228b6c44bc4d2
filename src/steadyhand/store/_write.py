"""Batched, idempotent ingest of span records: one transaction per batch, exactly once per span id.

Spans are inserted with ``ON CONFLICT DO NOTHING ... RETURNING span_id``, so a replayed batch (the tracer
replays its spool after a crash) adds nothing; only the spans really inserted update their trace's
summary row, which keeps ``span_count`` and the sums exact under replays.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..tracing.records import SpanRecord
from ._blobs import extract_blobs
from .models import Blob, Project, Span, SpanBlob, SpanTag, Trace

__all__ = ["write_batch"]

_SPANS = Span.__table__
_TRACES = Trace.__table__


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


def write_batch(conn: Connection, spans: Sequence[SpanRecord]) -> int:
    """Write ``spans`` on ``conn`` (inside the caller's transaction); returns how many were new."""
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
    stmt = _insert(conn, _SPANS).on_conflict_do_nothing(index_elements=[_SPANS.c.span_id])
    inserted = set(conn.execute(stmt.returning(_SPANS.c.span_id), rows).scalars())
    if not inserted:
        return 0
    tags = [
        {"span_id": sid, "key": k, "value": v, "trace_id": by_id[sid].trace_id}
        for sid in inserted
        for k, v in by_id[sid].tags.items()
    ]
    if tags:
        conn.execute(_insert(conn, SpanTag.__table__).on_conflict_do_nothing(), tags)
    links = [r for r in span_blobs if r["span_id"] in inserted]
    if links:
        conn.execute(_insert(conn, SpanBlob.__table__).on_conflict_do_nothing(), links)
    traces: dict[str, _TraceAcc] = {}
    for sid in inserted:
        s = by_id[sid]
        acc = traces.get(s.trace_id)
        if acc is None:
            acc = traces[s.trace_id] = _TraceAcc(project=s.project, start_time=s.start_time)
        acc.add(s)
    conn.execute(_trace_upsert(conn), [acc.row(tid) for tid, acc in sorted(traces.items())])
    return len(inserted)
