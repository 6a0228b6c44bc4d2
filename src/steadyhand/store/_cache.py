"""The exact cache's SQL table: one row per key, on the trace store's engine (SQLite WAL or PostgreSQL).

It lives in its own file by default (``.steadyhand/cache.db``, see
:mod:`steadyhand.policies.cache_store`), apart from the traces, so cache writes never wait on the
trace writer and dropping the cache is deleting a file. The table is created on first use and not
migrated: entries are disposable, and a change of shape bumps the cache's key version instead.

Every operation is bounded (a 250 ms busy timeout on SQLite, the engine's short connect timeout on
PostgreSQL) and never raises: a failure is a miss or a skipped write, counted on ``errors``.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from ._engine import create_engine, normalize_url

__all__ = ["SqlCacheStore"]

BUSY_TIMEOUT_MS = 250
"""How long a cache operation waits for another writer before giving up (a miss, not a hang)."""
PRUNE_EVERY = 1_000
"""Expired rows are deleted once every this many writes."""

_metadata = sa.MetaData()
entries = sa.Table(
    "steadyhand_cache",
    _metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.Double(), nullable=False, index=True),
    sa.Column("value", sa.LargeBinary(), nullable=False),
)


def _short_busy_timeout(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.close()


class SqlCacheStore:
    """A :class:`~steadyhand.policies.cache_store.CacheStore` in a SQL table."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.errors = 0
        self._engine: Engine = create_engine(self.url)
        self._sqlite = self._engine.dialect.name == "sqlite"
        if self._sqlite:
            event.listen(self._engine, "connect", _short_busy_timeout)  # after the store's own pragmas
        self._writes = 0
        self._ready = False
        dialect: Any = sqlite if self._sqlite else postgresql
        insert = dialect.insert(entries)
        self._upsert = insert.on_conflict_do_update(
            index_elements=[entries.c.key],
            set_={"expires_at": insert.excluded.expires_at, "value": insert.excluded.value},
        )
        self._select = sa.select(entries.c.value).where(
            entries.c.key == sa.bindparam("k"), entries.c.expires_at > sa.bindparam("now")
        )

    def _create(self) -> None:
        if not self._ready:
            _metadata.create_all(self._engine, checkfirst=True)
            self._ready = True

    def get(self, key: str) -> bytes | None:
        from ..policies.cache_store import note_failure

        try:
            self._create()
            with self._engine.connect() as conn:
                row = conn.execute(self._select, {"k": key, "now": time.time()}).first()
        except Exception as error:
            note_failure(self, "read", error)
            return None
        return None if row is None else bytes(row[0])

    def set(self, key: str, value: bytes, ttl: float) -> None:
        from ..policies.cache_store import note_failure

        now = time.time()
        try:
            self._create()
            with self._engine.begin() as conn:
                conn.execute(self._upsert, {"key": key, "expires_at": now + ttl, "value": value})
                self._writes += 1
                if self._writes % PRUNE_EVERY == 0:
                    conn.execute(sa.delete(entries).where(entries.c.expires_at <= now))
        except Exception as error:
            note_failure(self, "write", error)

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)  # a local file: faster inline than a hop to a thread; bounded by the timeout

    async def aset(self, key: str, value: bytes, ttl: float) -> None:
        self.set(key, value, ttl)

    def close(self) -> None:
        self._engine.dispose()
