"""The tables (SQLAlchemy 2 declarative). Migrations in ``migrations/versions`` must match these.

Aligned with OpenTelemetry's GenAI conventions: a trace is a tree of spans; LLM spans carry the request,
response, usage and cost. ``traces`` is a summary maintained on ingest so listing never scans spans.
Times are unix seconds (double precision), as in :class:`~steadyhand.records.SpanRecord`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "Blob",
    "Project",
    "PromptLabel",
    "PromptLabelMove",
    "PromptVersion",
    "Span",
    "SpanBlob",
    "SpanTag",
    "Trace",
]

JSONType = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
"""JSON on SQLite, JSONB on PostgreSQL (indexable, casts to text for search)."""
SeqType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""SQLite only auto-increments an ``INTEGER PRIMARY KEY``."""
Id = sa.String(64)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONType, float: sa.Double()}


class Project(Base):
    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    created_at: Mapped[float]


class Trace(Base):
    """One row per trace, upserted with each batch of its spans."""

    __tablename__ = "traces"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    project: Mapped[str] = mapped_column(sa.String(200), sa.ForeignKey("projects.name"))
    start_time: Mapped[float]
    end_time: Mapped[float | None]
    root_span_id: Mapped[str | None] = mapped_column(Id)
    root_span_name: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16))
    """The root span's status once it has arrived; before that, "error" if any span failed."""
    tags: Mapped[dict[str, Any] | None]
    """The root span's tags."""
    span_count: Mapped[int]
    error_count: Mapped[int]
    input_tokens: Mapped[int]
    output_tokens: Mapped[int]
    cost_usd: Mapped[float]
    """Sums over the trace's spans, attempts excluded (their LLM span already counts them)."""

    __table_args__ = (
        sa.Index("ix_traces_start", "start_time", "id"),
        sa.Index("ix_traces_project_start", "project", "start_time", "id"),
    )


class Span(Base):
    """Every field of a SpanRecord; ``seq`` orders ingestion (what ``tail`` follows)."""

    __tablename__ = "spans"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    span_id: Mapped[str] = mapped_column(Id, unique=True)
    trace_id: Mapped[str] = mapped_column(Id, index=True)
    parent_id: Mapped[str | None] = mapped_column(Id)
    project: Mapped[str] = mapped_column(sa.String(200), sa.ForeignKey("projects.name"))
    name: Mapped[str] = mapped_column(sa.Text)
    """Free text (names, error types, finish reasons) is ``text``: never cut. Bounded columns are ids
    and identifiers, indexed or compared; ``_fit`` cuts what would not fit them."""
    kind: Mapped[str] = mapped_column(sa.String(16))
    start_time: Mapped[float]
    end_time: Mapped[float | None]
    first_token_time: Mapped[float | None]
    status: Mapped[str] = mapped_column(sa.String(16))
    error_type: Mapped[str | None] = mapped_column(sa.Text)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    attributes: Mapped[dict[str, Any] | None]
    tags: Mapped[dict[str, Any] | None]
    model_alias: Mapped[str | None] = mapped_column(sa.String(200))
    provider: Mapped[str | None] = mapped_column(sa.String(100))
    model: Mapped[str | None] = mapped_column(sa.String(200))
    response_model: Mapped[str | None] = mapped_column(sa.String(200))
    prompt_version: Mapped[str | None] = mapped_column(sa.String(200))
    request: Mapped[dict[str, Any] | None]
    """The normalized request (``ModelRequest`` dump, not the wire body), with long strings replaced by
    ``{"$blob": hash}`` references into ``blobs``."""
    response: Mapped[dict[str, Any] | None]
    finish_reason: Mapped[str | None] = mapped_column(sa.Text)
    input_tokens: Mapped[int | None]
    output_tokens: Mapped[int | None]
    cached_input_tokens: Mapped[int | None]
    cache_write_tokens: Mapped[int | None]
    reasoning_tokens: Mapped[int | None]
    usage_estimated: Mapped[bool]
    usage_raw: Mapped[dict[str, Any] | None]
    cost_usd: Mapped[float | None]
    price_version: Mapped[str | None] = mapped_column(sa.String(100))

    __table_args__ = (
        sa.Index("ix_spans_start", "start_time", "span_id"),
        sa.Index("ix_spans_model", "model", "start_time"),
        sa.Index("ix_spans_prompt_version", "prompt_version", "start_time"),
        {"sqlite_autoincrement": True},
    )


class SpanTag(Base):
    """One row per tag of a span: the indexed way to filter by ``key=value``."""

    __tablename__ = "span_tags"

    span_id: Mapped[str] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(500))
    trace_id: Mapped[str] = mapped_column(Id)

    __table_args__ = (sa.Index("ix_span_tags_kv", "key", "value", "trace_id"),)


class Blob(Base):
    """Large repeated content (system prompts, documents) stored once by SHA-256."""

    __tablename__ = "blobs"

    hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    content: Mapped[str] = mapped_column(sa.Text)
    size: Mapped[int]
    created_at: Mapped[float]


class SpanBlob(Base):
    """Which span references which blob: lets prune drop unreferenced blobs and search their text."""

    __tablename__ = "span_blobs"

    span_id: Mapped[str] = mapped_column(Id, primary_key=True)
    hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)

    __table_args__ = (sa.Index("ix_span_blobs_hash", "hash"),)


class PromptVersion(Base):
    """Every prompt version ever registered, kept whole (the definition a version hashes, plus metadata)."""

    __tablename__ = "prompt_versions"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[float]
    created_by: Mapped[str] = mapped_column(sa.String(200))

    __table_args__ = (sa.Index("ix_prompt_versions_created", "name", "created_at"),)


class PromptLabel(Base):
    """Where each label (``production``, ``staging``) of a prompt points now."""

    __tablename__ = "prompt_labels"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(64))
    moved_at: Mapped[float]
    moved_by: Mapped[str] = mapped_column(sa.String(200))


class PromptLabelMove(Base):
    """Every move of a label, in order: who moved it, when, from which version to which."""

    __tablename__ = "prompt_label_moves"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    label: Mapped[str] = mapped_column(sa.String(100))
    from_version: Mapped[str | None] = mapped_column(sa.String(64))
    to_version: Mapped[str] = mapped_column(sa.String(64))
    moved_at: Mapped[float]
    moved_by: Mapped[str] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.Index("ix_prompt_label_moves_name", "name", "seq"), {"sqlite_autoincrement": True})
