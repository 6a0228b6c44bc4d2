"""Initial trace store: projects, traces, spans, span_tags, blobs, span_blobs.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "projects",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "span_blobs",
        sa.Column("span_id", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("span_id", "hash"),
    )
    op.create_index("ix_span_blobs_hash", "span_blobs", ["hash"], unique=False)

    op.create_table(
        "span_tags",
        sa.Column("span_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("trace_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("span_id", "key"),
    )
    op.create_index("ix_span_tags_kv", "span_tags", ["key", "value", "trace_id"], unique=False)

    op.create_table(
        "spans",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("span_id", sa.String(length=64), nullable=False),
        sa.Column("trace_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start_time", sa.Double(), nullable=False),
        sa.Column("end_time", sa.Double(), nullable=True),
        sa.Column("first_token_time", sa.Double(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_type", sa.String(length=200), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attributes", _json(), nullable=True),
        sa.Column("tags", _json(), nullable=True),
        sa.Column("model_alias", sa.String(length=200), nullable=True),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("response_model", sa.String(length=200), nullable=True),
        sa.Column("prompt_version", sa.String(length=200), nullable=True),
        sa.Column("request", _json(), nullable=True),
        sa.Column("response", _json(), nullable=True),
        sa.Column("finish_reason", sa.String(length=32), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cached_input_tokens", sa.Integer(), nullable=True),
        sa.Column("cache_write_tokens", sa.Integer(), nullable=True),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=True),
        sa.Column("usage_estimated", sa.Boolean(), nullable=False),
        sa.Column("usage_raw", _json(), nullable=True),
        sa.Column("cost_usd", sa.Double(), nullable=True),
        sa.Column("price_version", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["project"],
            ["projects.name"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("span_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_spans_model", "spans", ["model", "start_time"], unique=False)
    op.create_index("ix_spans_start", "spans", ["start_time", "span_id"], unique=False)
    op.create_index(op.f("ix_spans_trace_id"), "spans", ["trace_id"], unique=False)

    op.create_table(
        "traces",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("start_time", sa.Double(), nullable=False),
        sa.Column("end_time", sa.Double(), nullable=True),
        sa.Column("root_span_id", sa.String(length=64), nullable=True),
        sa.Column("root_span_name", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tags", _json(), nullable=True),
        sa.Column("span_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project"],
            ["projects.name"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_traces_project_start", "traces", ["project", "start_time", "id"], unique=False)
    op.create_index("ix_traces_start", "traces", ["start_time", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_traces_start", table_name="traces")
    op.drop_index("ix_traces_project_start", table_name="traces")

    op.drop_table("traces")
    op.drop_index(op.f("ix_spans_trace_id"), table_name="spans")
    op.drop_index("ix_spans_start", table_name="spans")
    op.drop_index("ix_spans_model", table_name="spans")

    op.drop_table("spans")
    op.drop_index("ix_span_tags_kv", table_name="span_tags")

    op.drop_table("span_tags")
    op.drop_index("ix_span_blobs_hash", table_name="span_blobs")

    op.drop_table("span_blobs")
    op.drop_table("projects")
    op.drop_table("blobs")
