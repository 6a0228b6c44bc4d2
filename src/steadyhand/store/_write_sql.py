"""The ingest statements as driver SQL, written once per dialect (the write path's hot loop builds none).

SQLite gets ``?`` statements run with ``executemany`` over plain tuples (the driver binds in C).
PostgreSQL gets the same tuples streamed with ``COPY`` (``_write_pg``), and what must be merged into
rows already there as one array per column. Both keep the semantics of the SQLAlchemy constructs they
replace (see ``_write``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import spans, traces

__all__ = ["SPAN_COLUMNS", "SPAN_JSON", "SPAN_PLAIN", "TRACE_COLUMNS", "PostgresSQL", "SqliteSQL"]

SPAN_JSON = ("attributes", "tags", "request", "response", "usage_raw")
"""The JSON columns, last in a row: ``_write`` encodes them (and swaps blobs into the request)."""
SPAN_PLAIN: tuple[str, ...] = tuple(
    c.name for c in spans.columns if c.name != "seq" and c.name not in SPAN_JSON
)
"""The columns copied from the SpanRecord attribute of the same name (``seq`` is generated)."""
SPAN_COLUMNS = SPAN_PLAIN + SPAN_JSON
TRACE_COLUMNS = (
    "id",
    "project",
    "start_time",
    "end_time",
    "root_span_id",
    "root_span_name",
    "status",
    "tags",
    "span_count",
    "error_count",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)

_MERGE_TRACE = """ON CONFLICT (id) DO UPDATE SET
    start_time = CASE WHEN excluded.start_time < traces.start_time
        THEN excluded.start_time ELSE traces.start_time END,
    end_time = CASE WHEN traces.end_time IS NULL THEN excluded.end_time
        WHEN excluded.end_time > traces.end_time THEN excluded.end_time ELSE traces.end_time END,
    root_span_id = coalesce(excluded.root_span_id, traces.root_span_id),
    root_span_name = CASE WHEN excluded.root_span_id IS NOT NULL
        THEN excluded.root_span_name ELSE traces.root_span_name END,
    status = CASE WHEN excluded.root_span_id IS NOT NULL THEN excluded.status
        WHEN traces.root_span_id IS NOT NULL THEN traces.status
        WHEN excluded.status = 'error' THEN excluded.status ELSE traces.status END,
    tags = CASE WHEN excluded.root_span_id IS NOT NULL THEN excluded.tags ELSE traces.tags END,
    span_count = traces.span_count + excluded.span_count,
    error_count = traces.error_count + excluded.error_count,
    input_tokens = traces.input_tokens + excluded.input_tokens,
    output_tokens = traces.output_tokens + excluded.output_tokens,
    cost_usd = traces.cost_usd + excluded.cost_usd"""
"""Merge a batch's share of a trace into its summary row (the SET expressions all read the old row)."""


def _values(n: int) -> str:
    return ", ".join("?" * n)


@dataclass(frozen=True, slots=True)
class SqliteSQL:
    """``executemany`` statements; the caller holds the write lock, so ``existing`` then insert is exact."""

    projects: str = "INSERT INTO projects (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
    blobs: str = (
        "INSERT INTO blobs (hash, content, size, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
    )
    existing: str = "SELECT span_id FROM spans WHERE span_id IN (SELECT value FROM json_each(?))"
    """The ids already stored among a JSON array of ids (one parameter, whatever the batch size)."""
    spans: str = (
        f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({_values(len(SPAN_COLUMNS))}) "
        "ON CONFLICT DO NOTHING"
    )
    tags: str = (
        "INSERT INTO span_tags (span_id, key, value, trace_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
    )
    span_blobs: str = "INSERT INTO span_blobs (span_id, hash) VALUES (?, ?) ON CONFLICT DO NOTHING"
    traces: str = (
        f"INSERT INTO traces ({', '.join(TRACE_COLUMNS)}) VALUES ({_values(len(TRACE_COLUMNS))}) "
        + _MERGE_TRACE
    )


_PG_ARRAY = {"DOUBLE": "float8", "INTEGER": "int", "JSON": "jsonb"}
_TRACE_TYPES = tuple(_PG_ARRAY.get(str(traces.c[name].type), "text") for name in TRACE_COLUMNS)
"""``TRACE_COLUMNS``' PostgreSQL types (strings as ``text``), for the arrays ``merge_traces`` takes."""


@dataclass(frozen=True, slots=True)
class PostgresSQL:
    """Lookups and upserts over arrays (one parameter per column), and ``COPY`` for the rows that are
    new (``_write_pg`` says why and how that stays exactly once)."""

    stored: str = """WITH projects_ AS (
    INSERT INTO projects (name, created_at) SELECT name, %s FROM unnest(%s::text[]) AS name
    ON CONFLICT DO NOTHING
)
SELECT true, s.span_id FROM unnest(%s::text[]) AS i(id),
    LATERAL (SELECT span_id FROM spans WHERE span_id = i.id LIMIT 1) AS s
UNION ALL
SELECT false, t.id FROM unnest(%s::text[]) AS i(id),
    LATERAL (SELECT id FROM traces WHERE id = i.id LIMIT 1) AS t"""
    """The batch's projects inserted (the foreign keys need them first), then which of its spans
    (``true``) and traces (``false``) are stored already.

    One index probe per id, whatever the planner thinks of the table: ``span_id = ANY(ids)`` was
    planned as a sequential scan comparing every stored row with every id (tables not analyzed yet,
    or too small for the index to look cheaper), which doubled the server's CPU per span in batches
    of 250 on a table of 10,000 spans and grows with the table."""
    blobs: str = (
        "INSERT INTO blobs (hash, content, size, created_at) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::float8[]) ON CONFLICT DO NOTHING"
    )
    """Blobs are shared by spans and writers: inserted, not copied, so one stored already is skipped."""
    copy_spans: str = f"COPY spans ({', '.join(SPAN_COLUMNS)}) FROM STDIN"
    copy_tags: str = "COPY span_tags (span_id, key, value, trace_id) FROM STDIN"
    copy_links: str = "COPY span_blobs (span_id, hash) FROM STDIN"
    copy_traces: str = f"COPY traces ({', '.join(TRACE_COLUMNS)}) FROM STDIN"
    merge_traces: str = (
        f"INSERT INTO traces ({', '.join(TRACE_COLUMNS)}) SELECT * FROM unnest("
        + ", ".join(f"%s::{t}[]" for t in _TRACE_TYPES)
        + ") "
        + _MERGE_TRACE
    )
    """The summaries of traces stored already, merged (one array per column, in ``TRACE_COLUMNS``
    order)."""
