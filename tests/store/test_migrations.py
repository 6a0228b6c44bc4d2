"""Migrating an empty database to head, and the models matching the migrations (alembic check)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from steadyhand.store import open_store
from steadyhand.store._migrate import HEAD_REVISION, current_revision, head_revision
from steadyhand.store.models import metadata

TABLES = {
    "alembic_version",
    "api_key_spend",
    "api_keys",
    "blobs",
    "configs",
    "projects",
    "prompt_label_moves",
    "prompt_labels",
    "prompt_versions",
    "span_blobs",
    "span_tags",
    "spans",
    "traces",
}


def test_migrate_empty_database_to_head(empty_url: str) -> None:
    engine = sa.create_engine(empty_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) == set()
        with open_store(empty_url, migrate=False) as store:
            store.upgrade()
            store.upgrade()  # a second run is a no-op
        assert set(sa.inspect(engine).get_table_names()) == TABLES
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision() == "0005"
            # the cheap check a traced app runs at start (no alembic import) agrees with alembic's
            assert current_revision(conn) == HEAD_REVISION == head_revision()
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], f"models and migrations differ; add a migration: {diff}"
    finally:
        engine.dispose()


def test_compare_catches_a_model_change(empty_url: str) -> None:
    """The check above can fail: a column the migrations lack shows up in the diff."""
    with open_store(empty_url):
        pass
    changed = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["spans"].append_column(sa.Column("extra", sa.Integer, nullable=True))
    engine = sa.create_engine(empty_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), changed)
    finally:
        engine.dispose()
    assert [d[0] for d in diff] == ["add_column"]


def test_a_locked_sqlite_file_is_retried_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite can answer "database is locked" at once while other apps open the same fresh file."""
    from sqlalchemy.exc import OperationalError

    from steadyhand.store import _migrate

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    real, calls = _migrate._upgrade_once, []

    def flaky(engine: sa.Engine) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
        real(engine)

    monkeypatch.setattr(_migrate, "_upgrade_once", flaky)
    monkeypatch.setattr("steadyhand.store._migrate.time.sleep", lambda seconds: None)
    _migrate.upgrade(engine)
    assert len(calls) == 3
    with engine.connect() as conn:
        assert current_revision(conn) == HEAD_REVISION
    calls.clear()
    with pytest.raises(OperationalError):
        _migrate.upgrade(engine, retries=1)  # still locked after its retries: the error stands
    engine.dispose()
