"""Retention: delete (optionally archive first) traces older than a cutoff, then unreferenced blobs.

Works in chunks of traces, one transaction each, so pruning a large store never holds a long lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ._read import get_trace
from .models import Blob, Span, SpanBlob, SpanTag, Trace
from .views import PruneResult

__all__ = ["prune"]

CHUNK = 500


def _archive(out: IO[str], engine: Engine, trace_ids: list[str]) -> None:
    with engine.connect() as conn:
        for trace_id in trace_ids:
            detail = get_trace(conn, trace_id)
            if detail is not None:
                record = {"trace": detail.trace.model_dump(), "spans": [s.model_dump() for s in detail.spans]}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")


def prune(engine: Engine, *, cutoff: float, archive_to: Path | None) -> PruneResult:
    """Delete traces that started before ``cutoff`` (unix seconds); archive them as JSONL first."""
    traces = spans = 0
    out = None
    if archive_to is not None:
        archive_to.parent.mkdir(parents=True, exist_ok=True)
        out = archive_to.open("a", encoding="utf-8")
    try:
        while True:
            with engine.connect() as conn:
                ids = list(
                    conn.execute(sa.select(Trace.id).where(Trace.start_time < cutoff).limit(CHUNK)).scalars()
                )
            if not ids:
                break
            if out is not None:
                _archive(out, engine, ids)
                out.flush()
            with engine.begin() as conn:
                span_ids = sa.select(Span.span_id).where(Span.trace_id.in_(ids)).scalar_subquery()
                conn.execute(sa.delete(SpanBlob).where(SpanBlob.span_id.in_(span_ids)))
                conn.execute(sa.delete(SpanTag).where(SpanTag.trace_id.in_(ids)))
                spans += conn.execute(sa.delete(Span).where(Span.trace_id.in_(ids))).rowcount
                traces += conn.execute(sa.delete(Trace).where(Trace.id.in_(ids))).rowcount
    finally:
        if out is not None:
            out.close()
    with engine.begin() as conn:
        unreferenced = ~sa.exists().where(SpanBlob.hash == Blob.hash)
        blobs = conn.execute(sa.delete(Blob).where(unreferenced)).rowcount
    return PruneResult(
        traces=traces, spans=spans, blobs=blobs, archive=str(archive_to) if archive_to is not None else None
    )
