"""Re-pricing: read LLM spans page by page, write their new costs back with their traces' cost totals.

What :func:`steadyhand.tracing.recompute_costs` needs from the store (its ``CostStore`` protocol). Pages
are keyset on ``seq`` (ingestion order), each read in its own short transaction, so a re-price of a large
store never holds a lock or a snapshot while the caller works, and spans written meanwhile cause no
duplicates or gaps. Updates run one batch per write transaction; the traces they touch get their
``cost_usd`` recomputed from their spans in that same transaction, so the summary never drifts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..records import CostUpdate, SpanRecord
from .models import spans, traces

__all__ = ["PRICED_KINDS", "count_llm_spans", "llm_spans_page", "update_span_costs"]

PRICED_KINDS = ("llm", "attempt", "shadow")
"""The span kinds that carry usage and a cost (the tracer prices the same ones)."""
_SPANS = spans
_TRACES = traces
_S = _SPANS.c
_T = _TRACES.c
_PRICING_COLUMNS = (
    _S.seq,
    _S.span_id,
    _S.trace_id,
    _S.parent_id,
    _S.project,
    _S.name,
    _S.kind,
    _S.start_time,
    _S.model,
    _S.input_tokens,
    _S.output_tokens,
    _S.cached_input_tokens,
    _S.cache_write_tokens,
    _S.reasoning_tokens,
    _S.usage_estimated,
    _S.cost_usd,
    _S.price_version,
)
_IN_CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit


def _filters(since: float | None, until: float | None, model: str | None) -> list[Any]:
    where: list[Any] = [_S.kind.in_(PRICED_KINDS)]
    if since is not None:
        where.append(_S.start_time >= since)
    if until is not None:
        where.append(_S.start_time < until)
    if model is not None:
        where.append(sa.or_(_S.model == model, _S.model_alias == model))
    return where


def count_llm_spans(conn: Connection, *, since: float | None, until: float | None, model: str | None) -> int:
    query = sa.select(sa.func.count()).select_from(_SPANS).where(*_filters(since, until, model))
    return int(conn.execute(query).scalar_one())


def llm_spans_page(
    conn: Connection,
    *,
    after: int,
    limit: int,
    since: float | None,
    until: float | None,
    model: str | None,
) -> tuple[list[SpanRecord], int]:
    """Up to ``limit`` LLM spans ingested after ``after`` (a ``seq``), and the ``seq`` to continue from.

    Only the fields pricing needs are loaded (ids, kind, model, usage, cost): a request or response can
    be large and re-pricing never looks at them.
    """
    query = (
        sa.select(*_PRICING_COLUMNS)
        .where(_S.seq > after, *_filters(since, until, model))
        .order_by(_S.seq)
        .limit(limit)
    )
    rows = conn.execute(query).mappings().all()
    spans = [SpanRecord(**{k: v for k, v in row.items() if k != "seq"}) for row in rows]
    return spans, rows[-1]["seq"] if rows else after


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _IN_CHUNK] for i in range(0, len(items), _IN_CHUNK)]


def update_span_costs(conn: Connection, updates: Sequence[CostUpdate]) -> int:
    """Set ``cost_usd``/``price_version`` of the given spans and recompute their traces' ``cost_usd``.

    Runs inside the caller's write transaction. Returns how many of the spans exist (unknown ids, e.g.
    pruned meanwhile, are skipped). The traces' rows are locked before their sums are read, so a batch
    of new spans committed concurrently is either in the sum or added on top of it, never lost.
    """
    latest = {u.span_id: u for u in updates}
    owners: dict[str, str] = {}
    for chunk in _chunks(sorted(latest)):
        found = conn.execute(sa.select(_S.span_id, _S.trace_id).where(_S.span_id.in_(chunk)))
        owners.update({row[0]: row[1] for row in found})
    if not owners:
        return 0
    trace_ids = sorted(set(owners.values()))
    if conn.dialect.name == "postgresql":  # SQLite: the write transaction already holds the lock
        for chunk in _chunks(trace_ids):
            conn.execute(sa.select(_T.id).where(_T.id.in_(chunk)).order_by(_T.id).with_for_update())
    conn.execute(
        sa.update(_SPANS)
        .where(_S.span_id == sa.bindparam("b_span_id"))
        .values(cost_usd=sa.bindparam("b_cost"), price_version=sa.bindparam("b_version")),
        [
            {"b_span_id": sid, "b_cost": latest[sid].cost_usd, "b_version": latest[sid].price_version}
            for sid in sorted(owners)
        ],
    )
    total = (
        sa.select(sa.func.coalesce(sa.func.sum(_S.cost_usd), 0.0))
        .where(_S.trace_id == _T.id, _S.kind != "attempt")
        .scalar_subquery()
    )
    for chunk in _chunks(trace_ids):
        conn.execute(sa.update(_TRACES).where(_T.id.in_(chunk)).values(cost_usd=total))
    return len(owners)
