"""The tables (SQLAlchemy Core). Migrations in ``migrations/versions`` must match these.

Aligned with OpenTelemetry's GenAI conventions: a trace is a tree of spans; LLM spans carry the request,
response, usage and cost. ``traces`` is a summary maintained on ingest so listing never scans spans.
Times are unix seconds (double precision), as in :class:`~steadyhand.records.SpanRecord`.

Core tables, not ORM classes: the store reads and writes rows, never objects, and the ORM plus the
PostgreSQL dialect cost a traced app ~75 ms at import (``benchmarks/bench_import.py``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

__all__ = [
    "JSONType",
    "blobs",
    "configs",
    "metadata",
    "projects",
    "prompt_label_moves",
    "prompt_labels",
    "prompt_versions",
    "span_blobs",
    "span_tags",
    "spans",
    "traces",
]


class JSONType(sa.TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL (indexable, casts to text for search); SQL NULL for None.

    The PostgreSQL type is looked up when a PostgreSQL engine first compiles, so SQLite apps never
    import that dialect.
    """

    impl = sa.JSON
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(none_as_null=True)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(sa.JSON(none_as_null=True))


def _seq() -> sa.BigInteger:
    """SQLite only auto-increments an ``INTEGER PRIMARY KEY``."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.String:
    return sa.String(64)


metadata = sa.MetaData()

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("created_at", sa.Double(), nullable=False),
)

traces = sa.Table(
    "traces",
    metadata,
    sa.Column("id", _id(), primary_key=True),
    sa.Column("project", sa.String(200), sa.ForeignKey("projects.name"), nullable=False),
    sa.Column("start_time", sa.Double(), nullable=False),
    sa.Column("end_time", sa.Double()),
    sa.Column("root_span_id", _id()),
    sa.Column("root_span_name", sa.Text()),
    # the root span's status once it has arrived; before that, "error" if any span failed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("tags", JSONType()),  # the root span's tags
    # sums over the trace's spans, attempts excluded (their LLM span already counts them)
    sa.Column("span_count", sa.Integer(), nullable=False),
    sa.Column("error_count", sa.Integer(), nullable=False),
    sa.Column("input_tokens", sa.Integer(), nullable=False),
    sa.Column("output_tokens", sa.Integer(), nullable=False),
    sa.Column("cost_usd", sa.Double(), nullable=False),
    sa.Index("ix_traces_start", "start_time", "id"),
    sa.Index("ix_traces_project_start", "project", "start_time", "id"),
)
"""One row per trace, upserted with each batch of its spans."""

spans = sa.Table(
    "spans",
    metadata,
    sa.Column("seq", _seq(), primary_key=True, autoincrement=True),
    sa.Column("span_id", _id(), nullable=False, unique=True),
    sa.Column("trace_id", _id(), nullable=False, index=True),
    sa.Column("parent_id", _id()),
    sa.Column("project", sa.String(200), sa.ForeignKey("projects.name"), nullable=False),
    # Free text (names, error types, finish reasons) is `text`: never cut. Bounded columns are ids and
    # identifiers, indexed or compared; `_fit` cuts what would not fit them.
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("start_time", sa.Double(), nullable=False),
    sa.Column("end_time", sa.Double()),
    sa.Column("first_token_time", sa.Double()),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_type", sa.Text()),
    sa.Column("error_message", sa.Text()),
    sa.Column("attributes", JSONType()),
    sa.Column("tags", JSONType()),
    sa.Column("model_alias", sa.String(200)),
    sa.Column("provider", sa.String(100)),
    sa.Column("model", sa.String(200)),
    sa.Column("response_model", sa.String(200)),
    sa.Column("prompt_version", sa.String(200)),
    # the normalized request (`ModelRequest` dump, not the wire body), with long strings replaced by
    # {"$blob": hash} references into `blobs`
    sa.Column("request", JSONType()),
    sa.Column("response", JSONType()),
    sa.Column("finish_reason", sa.Text()),
    sa.Column("input_tokens", sa.Integer()),
    sa.Column("output_tokens", sa.Integer()),
    sa.Column("cached_input_tokens", sa.Integer()),
    sa.Column("cache_write_tokens", sa.Integer()),
    sa.Column("reasoning_tokens", sa.Integer()),
    sa.Column("usage_estimated", sa.Boolean(), nullable=False),
    sa.Column("usage_raw", JSONType()),
    sa.Column("cost_usd", sa.Double()),
    sa.Column("price_version", sa.String(100)),
    sa.Index("ix_spans_start", "start_time", "span_id"),
    sa.Index("ix_spans_model", "model", "start_time"),
    sa.Index("ix_spans_prompt_version", "prompt_version", "start_time"),
    sqlite_autoincrement=True,
)
"""Every field of a SpanRecord; ``seq`` orders ingestion (what ``tail`` follows)."""

span_tags = sa.Table(
    "span_tags",
    metadata,
    sa.Column("span_id", _id(), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.String(500), nullable=False),
    sa.Column("trace_id", _id(), nullable=False),
    sa.Index("ix_span_tags_kv", "key", "value", "trace_id"),
)
"""One row per tag of a span: the indexed way to filter by ``key=value``."""

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("content", sa.Text(), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
)
"""Large repeated content (system prompts, documents) stored once by SHA-256."""

span_blobs = sa.Table(
    "span_blobs",
    metadata,
    sa.Column("span_id", _id(), primary_key=True),
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Index("ix_span_blobs_hash", "hash"),
)
"""Which span references which blob: lets prune drop unreferenced blobs and search their text."""

prompt_versions = sa.Table(
    "prompt_versions",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("definition", JSONType(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Index("ix_prompt_versions_created", "name", "created_at"),
)
"""Every prompt version ever registered, kept whole (the definition a version hashes, plus metadata)."""

prompt_labels = sa.Table(
    "prompt_labels",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("label", sa.String(100), primary_key=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("moved_at", sa.Double(), nullable=False),
    sa.Column("moved_by", sa.String(200), nullable=False),
)
"""Where each label (``production``, ``staging``) of a prompt points now."""

prompt_label_moves = sa.Table(
    "prompt_label_moves",
    metadata,
    sa.Column("seq", _seq(), primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("from_version", sa.String(64)),
    sa.Column("to_version", sa.String(64), nullable=False),
    sa.Column("moved_at", sa.Double(), nullable=False),
    sa.Column("moved_by", sa.String(200), nullable=False),
    sa.Column("note", sa.Text()),
    sa.Index("ix_prompt_label_moves_name", "name", "seq"),
    sqlite_autoincrement=True,
)
"""Every move of a label, in order: who moved it, when, from which version to which."""

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", _id(), primary_key=True),
    sa.Column("project", sa.String(200), nullable=False, index=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("models", JSONType()),
    sa.Column("rpm", sa.Integer()),
    sa.Column("budget_usd", sa.Double()),
    sa.Column("period", sa.String(16)),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("revoked_at", sa.Double()),
)
"""The gateway's API keys: only a SHA-256 of each key is kept; the key itself is shown once."""

api_key_spend = sa.Table(
    "api_key_spend",
    metadata,
    sa.Column("key_id", _id(), primary_key=True),
    sa.Column("period_start", sa.Double(), primary_key=True),
    sa.Column("spent_usd", sa.Double(), nullable=False),
)
"""What each key spent in each budget period (settled with the real usage of each call)."""

configs = sa.Table(
    "configs",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("document", JSONType(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
)
"""Every configuration a gateway served, once per hash (the ``steadyhand.config_hash`` on its spans): the
canonical document with its secrets masked, and when a gateway first stored it."""
