"""The configurations gateways served: one row per hash in ``configs``, written once.

Several replicas (or ``--workers N``) start on the same configuration at once, so the insert is
``ON CONFLICT DO NOTHING`` on the hash: the first writer's row and time stay, the others are no-ops.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .models import configs
from .views import ConfigView

__all__ = ["get_config", "list_configs", "save_config"]


def save_config(conn: Connection, config_hash: str, document: Mapping[str, Any]) -> bool:
    """Store ``document`` under ``config_hash`` unless a row has it already; True when this one was new.

    ``RETURNING`` says whether the row went in (psycopg's rowcount says 1 either way).
    """
    row = {"hash": config_hash, "document": dict(document), "created_at": time.time()}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(configs).values(row).on_conflict_do_nothing(index_elements=["hash"])
        return conn.execute(pg.returning(configs.c.hash)).first() is not None
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    lite = sqlite_insert(configs).values(row).on_conflict_do_nothing(index_elements=["hash"])
    return conn.execute(lite.returning(configs.c.hash)).first() is not None


def get_config(conn: Connection, config_hash: str) -> ConfigView | None:
    row = conn.execute(sa.select(configs).where(configs.c.hash == config_hash)).first()
    return None if row is None else ConfigView.model_validate(dict(row._mapping))


def list_configs(conn: Connection, *, limit: int = 50) -> list[ConfigView]:
    """The newest first."""
    query = sa.select(configs).order_by(configs.c.created_at.desc(), configs.c.hash).limit(limit)
    return [ConfigView.model_validate(dict(row._mapping)) for row in conn.execute(query)]
