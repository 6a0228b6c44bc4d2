"""The gateway's API keys and their spend: rows in ``api_keys`` and ``api_key_spend``."""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .models import api_key_spend, api_keys
from .views import ApiKeyView

__all__ = ["add_spend", "insert_key", "list_keys", "revoke_key", "spend"]


def insert_key(conn: Connection, key: ApiKeyView) -> None:
    conn.execute(sa.insert(api_keys).values(**key.model_dump()))


def list_keys(
    conn: Connection, *, project: str | None = None, include_revoked: bool = True
) -> list[ApiKeyView]:
    query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    if project is not None:
        query = query.where(api_keys.c.project == project)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    return [ApiKeyView.model_validate(dict(row._mapping)) for row in conn.execute(query)]


def revoke_key(conn: Connection, key_id: str) -> bool:
    result = conn.execute(
        sa.update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=time.time())
    )
    return bool(result.rowcount)


def add_spend(conn: Connection, entries: Sequence[tuple[str, float, float]]) -> None:
    """Add ``(key_id, period_start, usd)`` amounts (an upsert: read, then update or insert)."""
    for key_id, start, usd in entries:
        where = (api_key_spend.c.key_id == key_id) & (api_key_spend.c.period_start == start)
        updated = conn.execute(
            sa.update(api_key_spend).where(where).values(spent_usd=api_key_spend.c.spent_usd + usd)
        )
        if not updated.rowcount:
            conn.execute(sa.insert(api_key_spend).values(key_id=key_id, period_start=start, spent_usd=usd))


def spend(conn: Connection, key_id: str, period_start: float) -> float:
    where = (api_key_spend.c.key_id == key_id) & (api_key_spend.c.period_start == period_start)
    value = conn.execute(sa.select(api_key_spend.c.spent_usd).where(where)).scalar()
    return float(value or 0.0)
