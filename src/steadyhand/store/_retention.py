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
from .models import blobs, span_blobs, span_tags, spans, traces
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
    trace_count = span_count = 0
    out = None
    if archive_to is not None:
        archive_to.parent.mkdir(parents=True, exist_ok=True)
        out = archive_to.open("a", encoding="utf-8")
    try:
        while True:
            with engine.connect() as conn:
                ids = list(
                    conn.execute(
                        sa.select(traces.c.id).where(traces.c.start_time < cutoff).limit(CHUNK)
                    ).scalars()
                )
            if not ids:
                break
            if out is not None:
                _archive(out, engine, ids)
                out.flush()
            with engine.begin() as conn:
                span_ids = sa.select(spans.c.span_id).where(spans.c.trace_id.in_(ids)).scalar_subquery()
                conn.execute(sa.delete(span_blobs).where(span_blobs.c.span_id.in_(span_ids)))
                # by span id, the primary key's first column: no index starts with trace_id, so
                # `trace_id IN (...)` scanned the whole table for each chunk (quadratic in the store)
                conn.execute(sa.delete(span_tags).where(span_tags.c.span_id.in_(span_ids)))
                span_count += conn.execute(sa.delete(spans).where(spans.c.trace_id.in_(ids))).rowcount
                trace_count += conn.execute(sa.delete(traces).where(traces.c.id.in_(ids))).rowcount
    finally:
        if out is not None:
            out.close()
    with engine.begin() as conn:
        unreferenced = ~sa.exists().where(span_blobs.c.hash == blobs.c.hash)
        blob_count = conn.execute(sa.delete(blobs).where(unreferenced)).rowcount
    return PruneResult(
        traces=trace_count,
        spans=span_count,
        blobs=blob_count,
        archive=str(archive_to) if archive_to is not None else None,
    )
