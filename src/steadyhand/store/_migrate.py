"""Alembic migrations run programmatically; the scripts ship inside the package (and the wheel).

Several apps may start at once on a fresh database (the setup docs/tracing.md shows), so the check
"already at head?" and the migration run under one lock: a transaction-scoped advisory lock on
PostgreSQL, the write lock (``BEGIN IMMEDIATE``, waiting up to the busy timeout) on SQLite. The first
app migrates; the others wait for it, then find the database at head and go on.

Alembic (with Mako) costs a traced app ~100 ms at import, and a database already at head needs none of
it: the revision is read with one query and compared with ``HEAD_REVISION`` (a test keeps that equal to
the scripts' head), so alembic loads only when there is something to migrate.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from ._engine import write_transaction

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD_REVISION", "alembic_config", "current_revision", "head_revision", "is_at_head", "upgrade"]

HEAD_REVISION = "0005"
"""The newest script in ``migrations/versions``; update it with each new migration."""
VERSION_TABLE = "alembic_version"

SCRIPT_LOCATION = str(Path(__file__).parent / "migrations")
ADVISORY_LOCK = 0x5354_4541_4459_4D47
"""The PostgreSQL advisory lock key migrations hold (``STEADYMG`` in ASCII)."""


def alembic_config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str | None:
    """The head as alembic reads it from the scripts (slow: for tests and tooling)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    """The database's revision, or None when it has no steadyhand tables (alembic's table, read directly)."""
    if not conn.dialect.has_table(conn, VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def is_at_head(conn: Connection) -> bool:
    return current_revision(conn) == HEAD_REVISION


LOCKED_RETRIES = 20


def upgrade(engine: Engine, *, retries: int = LOCKED_RETRIES) -> None:
    """Migrate to head in one transaction under the migration lock (skipped when already there).

    On SQLite a "database is locked" that comes back at once, without waiting out the busy timeout
    (1 of 10 apps opening a fresh file together hit one under load), is retried: the transaction
    rolled back, so trying again is safe.
    """
    for attempt in range(retries + 1):
        try:
            return _upgrade_once(engine)
        except OperationalError as exc:
            if engine.dialect.name != "sqlite" or "locked" not in str(exc) or attempt == retries:
                raise
            time.sleep(0.05 * (attempt + 1))


def _upgrade_once(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")
        if not is_at_head(conn):
            from alembic import command

            command.upgrade(alembic_config(conn), "head")
