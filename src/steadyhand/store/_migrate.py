"""Alembic migrations run programmatically; the scripts ship inside the package (and the wheel).

Several apps may start at once on a fresh database (the setup docs/tracing.md shows), so the check
"already at head?" and the migration run under one lock: a transaction-scoped advisory lock on
PostgreSQL, the write lock (``BEGIN IMMEDIATE``, waiting up to the busy timeout) on SQLite. The first
app migrates; the others wait for it, then find the database at head and go on.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from ._engine import write_transaction

__all__ = ["alembic_config", "head_revision", "is_at_head", "upgrade"]

SCRIPT_LOCATION = str(Path(__file__).parent / "migrations")
ADVISORY_LOCK = 0x5354_4541_4459_4D47
"""The PostgreSQL advisory lock key migrations hold (``STEADYMG`` in ASCII)."""


def alembic_config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = conn
    return cfg


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_at_head(conn: Connection) -> bool:
    return MigrationContext.configure(conn).get_current_revision() == head_revision()


def upgrade(engine: Engine) -> None:
    """Migrate to head in one transaction under the migration lock (skipped when already there)."""
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")
        if not is_at_head(conn):
            command.upgrade(alembic_config(conn), "head")
