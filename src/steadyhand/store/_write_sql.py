"""The ingest statements as driver SQL, written once per dialect (the write path's hot loop builds none).

SQLite gets ``?`` statements run with ``executemany`` over plain tuples (the driver binds in C).
PostgreSQL gets one statement per table, its rows passed as one JSON array expanded server side with
``json_populate_recordset``: one round trip per table instead of one per row, and no per-row adaptation
in Python. Both keep the semantics of the SQLAlchemy constructs they replace (see ``_write``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import spans

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


_SPAN_COLS = ", ".join(SPAN_COLUMNS)


@dataclass(frozen=True, slots=True)
class PostgresSQL:
    """Single statements over JSON arrays of row objects (keys are column names)."""

    projects: str = (
        "INSERT INTO projects (name, created_at) SELECT name, %s FROM unnest(%s::text[]) AS name "
        "ON CONFLICT DO NOTHING"
    )
    blobs: str = (
        "INSERT INTO blobs (hash, content, size, created_at) "
        "SELECT hash, content, size, created_at FROM json_populate_recordset(NULL::blobs, %s::json) "
        "ON CONFLICT DO NOTHING"
    )
    spans: str = f"""WITH new AS (
    INSERT INTO spans ({_SPAN_COLS})
    SELECT {_SPAN_COLS} FROM json_populate_recordset(NULL::spans, %s::json)
    ON CONFLICT (span_id) DO NOTHING RETURNING span_id
), tags AS (
    INSERT INTO span_tags (span_id, key, value, trace_id)
    SELECT t.span_id, t.key, t.value, t.trace_id
    FROM json_populate_recordset(NULL::span_tags, %s::json) AS t JOIN new USING (span_id)
), links AS (
    INSERT INTO span_blobs (span_id, hash)
    SELECT l.span_id, l.hash
    FROM json_populate_recordset(NULL::span_blobs, %s::json) AS l JOIN new USING (span_id)
)
SELECT span_id FROM new"""
    """Spans, then the tags and blob links of only the spans this statement inserted, in one round trip.

    ``ON CONFLICT DO NOTHING RETURNING`` is exact under concurrent writers: a span another transaction
    is inserting waits for it and is skipped, so exactly one writer gets each id back.
    """
    traces: str = (
        f"INSERT INTO traces ({', '.join(TRACE_COLUMNS)}) "
        f"SELECT {', '.join(TRACE_COLUMNS)} FROM json_populate_recordset(NULL::traces, %s::json) "
        + _MERGE_TRACE
    )
