"""Queries: trace listing with filters and keyset pagination, one trace as a tree, one span, tail.

Pagination is keyset on ``(start_time, id)`` newest first, never OFFSET, so a page costs the same
however deep it is and concurrent inserts cause no duplicates or gaps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from ..errors import ConfigurationError
from ..records import SpanKind
from . import models as tables
from ._blobs import referenced, resolve_blobs
from ._fit import tag_key, tag_value
from .views import SpanNode, SpanView, TailPage, TraceDetail, TracePage, TraceSummary

__all__ = ["KINDS", "STATUSES", "get_span", "get_trace", "list_traces", "tail", "to_seconds"]

MAX_SEARCH_CHARS = 200
MAX_LIMIT = 1000
_T = tables.traces.c
_S = tables.spans.c


def to_seconds(value: float | datetime | None) -> float | None:
    """Unix seconds from a float or an aware/naive-UTC datetime."""
    if value is None or isinstance(value, float | int):
        return value
    return value.timestamp()


def encode_cursor(start_time: float, trace_id: str) -> str:
    return f"{start_time!r}/{trace_id}"


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        start, trace_id = cursor.split("/", 1)
        return float(start), trace_id
    except ValueError:
        raise ConfigurationError(f"bad cursor {cursor!r}: pass back a next_cursor from list_traces") from None


STATUSES = ("ok", "error")
KINDS: tuple[str, ...] = get_args(SpanKind)
_COSTED_KINDS = ("llm", "shadow")
"""Kinds whose cost counts in the trace total (an attempt's cost is already in its llm span)."""


def _count_spans(*conds: Any) -> Any:
    return sa.select(sa.func.count()).where(_S.trace_id == _T.id, *conds).scalar_subquery()


def _trace_columns() -> tuple[Any, ...]:
    """The summary row plus what it cannot say alone: spans with usage but no price, estimated usage."""
    has_usage = sa.or_(_S.input_tokens.is_not(None), _S.output_tokens.is_not(None))
    unpriced = _count_spans(_S.kind.in_(_COSTED_KINDS), _S.cost_usd.is_(None), has_usage)
    estimated = _count_spans(_S.kind.in_(_COSTED_KINDS), _S.usage_estimated.is_(True))
    return (*tables.traces.c, unpriced.label("unpriced_spans"), estimated.label("estimated_spans"))


def _summary(row: RowMapping) -> TraceSummary:
    return TraceSummary(
        trace_id=row["id"],
        project=row["project"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        root_span_name=row["root_span_name"],
        status=row["status"],
        tags=row["tags"] or {},
        span_count=row["span_count"],
        error_count=row["error_count"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cost_usd=row["cost_usd"],
        unpriced_spans=row["unpriced_spans"],
        estimated_spans=row["estimated_spans"],
    )


def _span_filter(*conds: Any) -> Any:
    return sa.exists().where(_S.trace_id == _T.id, *conds)


def _search_filter(text: str) -> Any:
    if not text or len(text) > MAX_SEARCH_CHARS:
        raise ConfigurationError(f"search text must be 1 to {MAX_SEARCH_CHARS} characters")
    in_blob = (
        sa.select(1)
        .select_from(tables.span_blobs.join(tables.blobs, tables.span_blobs.c.hash == tables.blobs.c.hash))
        .where(
            tables.span_blobs.c.span_id == _S.span_id, tables.blobs.c.content.icontains(text, autoescape=True)
        )
        .exists()
    )
    return _span_filter(
        sa.or_(
            sa.cast(_S.request, sa.Text).icontains(text, autoescape=True),
            sa.cast(_S.response, sa.Text).icontains(text, autoescape=True),
            in_blob,
        )
    )


def list_traces(
    conn: Connection,
    *,
    limit: int,
    cursor: str | None,
    project: str | None,
    since: float | None,
    until: float | None,
    model: str | None,
    status: str | None,
    kind: str | None,
    tags: Mapping[str, str],
    search: str | None,
) -> TracePage:
    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigurationError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    where: list[Any] = []
    if project is not None:
        where.append(_T.project == project)
    if since is not None:
        where.append(_T.start_time >= since)
    if until is not None:
        where.append(_T.start_time < until)
    if status is not None and status not in STATUSES:
        raise ConfigurationError(f"status {status!r} is not one of: {', '.join(STATUSES)}")
    if kind is not None and kind not in KINDS:
        raise ConfigurationError(f"kind {kind!r} is not one of: {', '.join(KINDS)}")
    if status == "error":  # any failed span, not only the root's status (a retried call fails inside)
        where.append(sa.or_(_T.error_count > 0, _T.status == "error"))
    elif status == "ok":
        where.append(sa.and_(_T.error_count == 0, _T.status == "ok"))
    if model is not None:
        where.append(_span_filter(sa.or_(_S.model == model, _S.model_alias == model)))
    if kind is not None:
        where.append(_span_filter(_S.kind == kind))
    for key, value in tags.items():
        tag = tables.span_tags.c
        key, value = tag_key(key), tag_value(value)  # as the index holds them: long ones are cut
        where.append(sa.exists().where(tag.trace_id == _T.id, tag.key == key, tag.value == value))
    if search is not None:
        where.append(_search_filter(search))
    if cursor is not None:
        where.append(sa.tuple_(_T.start_time, _T.id) < sa.tuple_(*decode_cursor(cursor)))
    order = (_T.start_time.desc(), _T.id.desc())
    query = sa.select(*_trace_columns()).where(*where).order_by(*order).limit(limit + 1)
    rows = conn.execute(query).mappings().all()
    items = [_summary(r) for r in rows[:limit]]
    more = len(rows) > limit
    return TracePage(
        items=items,
        next_cursor=encode_cursor(rows[limit - 1]["start_time"], rows[limit - 1]["id"]) if more else None,
    )


def _views(conn: Connection, rows: Sequence[RowMapping]) -> list[SpanView]:
    hashes: set[str] = set()
    for r in rows:
        referenced(r["request"], hashes)
    blobs: dict[str, str] = {}
    if hashes:
        found = conn.execute(
            sa.select(tables.blobs.c.hash, tables.blobs.c.content).where(
                tables.blobs.c.hash.in_(sorted(hashes))
            )
        )
        blobs = {row[0]: row[1] for row in found}
    return [_view(r, blobs) for r in rows]


def _view(r: RowMapping, blobs: Mapping[str, str]) -> SpanView:
    data = dict(r)
    data["attributes"] = data["attributes"] or {}
    data["tags"] = data["tags"] or {}
    if data["request"] is not None:
        data["request"] = resolve_blobs(data["request"], blobs)
    return SpanView(**data)


def get_span(conn: Connection, span_id: str) -> SpanView | None:
    rows = conn.execute(sa.select(tables.spans).where(_S.span_id == span_id)).mappings().all()
    return _views(conn, rows)[0] if rows else None


def _tree(spans: list[SpanView]) -> list[SpanNode]:
    children: dict[str | None, list[SpanView]] = {}
    ids = {s.span_id for s in spans}
    for s in spans:
        parent = s.parent_id if s.parent_id in ids else None
        children.setdefault(parent, []).append(s)

    def build(span: SpanView) -> SpanNode:
        return SpanNode(span=span, children=[build(c) for c in children.get(span.span_id, [])])

    return [build(s) for s in children.get(None, [])]


def get_trace(conn: Connection, trace_id: str) -> TraceDetail | None:
    row = conn.execute(sa.select(*_trace_columns()).where(_T.id == trace_id)).mappings().first()
    if row is None:
        return None
    query = sa.select(tables.spans).where(_S.trace_id == trace_id).order_by(_S.start_time, _S.seq)
    spans = _views(conn, conn.execute(query).mappings().all())
    return TraceDetail(trace=_summary(row), roots=_tree(spans), spans=spans)


def tail(conn: Connection, *, since: int | None, limit: int) -> TailPage:
    if since is None:
        last = conn.execute(sa.select(sa.func.max(_S.seq))).scalar()
        return TailPage(spans=[], cursor=last or 0)
    query = sa.select(tables.spans).where(_S.seq > since).order_by(_S.seq).limit(limit)
    spans = _views(conn, conn.execute(query).mappings().all())
    return TailPage(spans=spans, cursor=spans[-1].seq if spans else since)
