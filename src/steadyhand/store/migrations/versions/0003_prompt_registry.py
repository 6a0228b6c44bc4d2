"""The prompt registry: every version ever used, where each label points, every label move.

Also indexes ``spans.prompt_version``, so replay finds a prompt's calls without scanning spans.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "prompt_versions",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", "version"),
    )
    op.create_index("ix_prompt_versions_created", "prompt_versions", ["name", "created_at"], unique=False)
    op.create_table(
        "prompt_labels",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("moved_at", sa.Double(), nullable=False),
        sa.Column("moved_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", "label"),
    )
    op.create_table(
        "prompt_label_moves",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("from_version", sa.String(length=64), nullable=True),
        sa.Column("to_version", sa.String(length=64), nullable=False),
        sa.Column("moved_at", sa.Double(), nullable=False),
        sa.Column("moved_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_prompt_label_moves_name", "prompt_label_moves", ["name", "seq"], unique=False)
    op.create_index("ix_spans_prompt_version", "spans", ["prompt_version", "start_time"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_spans_prompt_version", table_name="spans")
    op.drop_index("ix_prompt_label_moves_name", table_name="prompt_label_moves")
    op.drop_table("prompt_label_moves")
    op.drop_table("prompt_labels")
    op.drop_index("ix_prompt_versions_created", table_name="prompt_versions")
    op.drop_table("prompt_versions")
