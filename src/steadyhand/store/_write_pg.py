"""The PostgreSQL ingest path: new spans, their tags, blob links and new traces streamed with ``COPY``.

``COPY`` is the cheapest way into a PostgreSQL table: rows go in bulk (no executor run per row, no
speculative insertion for ``ON CONFLICT``), psycopg formats them in C, and the server inserts while the
client still sends. It replaced one ``INSERT ... SELECT FROM json_populate_recordset(...) ON CONFLICT``
per table, whose JSON documents the server parsed again before inserting (see docs/tracing-store.md
for the figures).

``COPY`` has no ``ON CONFLICT``, so exactly-once comes from a lookup first: one statement inserts the
batch's projects and returns which of its spans and traces are stored. Only the other spans are
copied, with their tags and links; new traces are copied and the others merged (an upsert). A
concurrent writer of the same spans or traces (a replay racing the original, two processes writing
one trace) makes a copy fail on a unique key once the other commits: that is ``Raced``, and the caller
runs the whole transaction again, when the lookup sees what the other writer stored. The exception is
a trace the other writer created first, the common case when the tracer's writer has two batches in
flight and a trace's spans are in both: the new traces' copy runs in a savepoint and, if it trips
on one, they are all merged instead (the merge waits for the other to commit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection

from ..records import SpanRecord
from ._write_sql import PostgresSQL

__all__ = ["Raced", "write_postgres"]

_SQL = PostgresSQL()
_RACED = frozenset({"spans_span_id_key", "traces_pkey"})
"""The unique keys a concurrent writer of the same spans or traces trips (PostgreSQL's default names)."""
_UNIQUE_VIOLATION = "23505"

TagRows = Callable[[SpanRecord], list[tuple[str, str, str, str]]]
Summaries = Callable[[list[SpanRecord]], list[tuple[Any, ...]]]


class Raced(Exception):
    """Another transaction stored some of these spans or traces between the lookup and the copy."""


def _copy_traces(cur: Any, rows: list[tuple[Any, ...]], error: type[Exception]) -> bool:
    """Copy new trace rows; False (nothing copied) when another transaction created one of them."""
    cur.execute("SAVEPOINT new_traces")
    try:
        with cur.copy(_SQL.copy_traces) as copy:
            for row in rows:
                copy.write_row(row)
    except error as e:
        if getattr(e, "sqlstate", None) != _UNIQUE_VIOLATION or e.diag.constraint_name != "traces_pkey":  # type: ignore[attr-defined]
            raise
        cur.execute("ROLLBACK TO SAVEPOINT new_traces")
        return False
    return True


def write_postgres(
    conn: Connection,
    spans: Sequence[SpanRecord],
    rows: Sequence[tuple[Any, ...]],
    links: Sequence[set[str]],
    blobs: Sequence[tuple[str, str]],
    *,
    tag_rows: TagRows,
    summaries: Summaries,
    now: float,
) -> int:
    """Store the spans not stored yet and what they bring; returns how many were new.

    ``rows`` and ``links`` are the spans' own (same order), ``blobs`` the (hash, text) they may
    reference, ``tag_rows`` a span's ``span_tags`` rows and ``summaries`` the trace summary rows
    (``TRACE_COLUMNS`` order, tags as JSON text) of spans. Runs inside the caller's transaction;
    driver errors leave as SQLAlchemy's ``DBAPIError`` (what ``map_errors`` classifies), a lost race
    as ``Raced``.
    """
    dbapi = conn.connection.driver_connection
    assert dbapi is not None  # a live connection (the transaction is open)
    error = conn.dialect.loaded_dbapi.Error
    try:
        with dbapi.cursor() as cur:
            trace_ids = sorted({s.trace_id for s in spans})
            projects = sorted({s.project for s in spans})
            cur.execute(_SQL.stored, (now, projects, [s.span_id for s in spans], trace_ids))
            found = cur.fetchall()
            stored = {key for is_span, key in found if is_span}
            new = [i for i, s in enumerate(spans) if s.span_id not in stored]
            if not new:
                return 0
            hashes: set[str] = set().union(*(links[i] for i in new))
            if hashes:
                texts = [(h, t) for h, t in blobs if h in hashes]
                sizes = [len(t) for _, t in texts]
                cur.execute(
                    _SQL.blobs, ([h for h, _ in texts], [t for _, t in texts], sizes, [now] * len(texts))
                )
            with cur.copy(_SQL.copy_spans) as copy:
                for i in new:
                    copy.write_row(rows[i])
                # built here, while the server still inserts the spans sent so far
                new_spans = [spans[i] for i in new]
                tags = [row for s in new_spans if s.tags for row in tag_rows(s)]
                known = {key for is_span, key in found if not is_span}
                merge: list[tuple[Any, ...]] = []
                fresh: list[tuple[Any, ...]] = []
                for row in summaries(new_spans):
                    (merge if row[0] in known else fresh).append(row)
            if tags:
                with cur.copy(_SQL.copy_tags) as copy:
                    for row in tags:
                        copy.write_row(row)
            if hashes:
                with cur.copy(_SQL.copy_links) as copy:
                    for i in new:
                        sid = spans[i].span_id
                        for h in links[i]:
                            copy.write_row((sid, h))
            if fresh and not _copy_traces(cur, fresh, error):
                merge = sorted(merge + fresh, key=lambda row: row[0])  # the lock order stays by id
            if merge:
                cur.execute(_SQL.merge_traces, [list(column) for column in zip(*merge, strict=True)])
    except error as e:
        if e.sqlstate == _UNIQUE_VIOLATION and getattr(e.diag, "constraint_name", None) in _RACED:
            raise Raced from e
        gone = conn.dialect.is_disconnect(e, dbapi, None)
        raise exc.DBAPIError.instance(
            None, None, e, error, connection_invalidated=gone, dialect=conn.dialect
        ) from e
    return len(new)
