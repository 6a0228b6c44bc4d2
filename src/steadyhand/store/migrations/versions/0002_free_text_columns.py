"""Free text never cut: span names, error types and finish reasons (and root span names) become text.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SPANS = (("name", 500, False), ("error_type", 200, True), ("finish_reason", 32, True))


def upgrade() -> None:
    with op.batch_alter_table("spans") as batch:
        for name, length, nullable in _SPANS:
            batch.alter_column(
                name, existing_type=sa.String(length=length), type_=sa.Text(), existing_nullable=nullable
            )
    with op.batch_alter_table("traces") as batch:
        batch.alter_column(
            "root_span_name", existing_type=sa.String(length=500), type_=sa.Text(), existing_nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("traces") as batch:
        batch.alter_column(
            "root_span_name", existing_type=sa.Text(), type_=sa.String(length=500), existing_nullable=True
        )
    with op.batch_alter_table("spans") as batch:
        for name, length, nullable in _SPANS:
            batch.alter_column(
                name, existing_type=sa.Text(), type_=sa.String(length=length), existing_nullable=nullable
            )
