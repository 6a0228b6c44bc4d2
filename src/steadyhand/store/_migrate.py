"""Alembic migrations run programmatically; the scripts ship inside the package (and the wheel)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

__all__ = ["alembic_config", "head_revision", "is_at_head", "upgrade"]

SCRIPT_LOCATION = str(Path(__file__).parent / "migrations")


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
    """Migrate to head in one transaction (skipped when already there)."""
    with engine.begin() as conn:
        if not is_at_head(conn):
            command.upgrade(alembic_config(conn), "head")
