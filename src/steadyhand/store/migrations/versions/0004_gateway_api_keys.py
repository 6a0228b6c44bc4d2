"""The gateway's API keys and what each spent per budget period.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("models", _json(), nullable=True),
        sa.Column("rpm", sa.Integer(), nullable=True),
        sa.Column("budget_usd", sa.Double(), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("revoked_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_api_keys_project", "api_keys", ["project"])
    op.create_table(
        "api_key_spend",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Double(), nullable=False),
        sa.Column("spent_usd", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "period_start"),
    )


def downgrade() -> None:
    op.drop_table("api_key_spend")
    op.drop_index("ix_api_keys_project", table_name="api_keys")
    op.drop_table("api_keys")
