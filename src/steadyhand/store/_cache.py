"""The exact cache's SQL table: one row per key, on the trace store's engine (SQLite WAL or PostgreSQL).

It lives in its own file by default (``.steadyhand/cache.db``, see
:mod:`steadyhand.policies.cache_store`), apart from the traces, so cache writes never wait on the
trace writer and dropping the cache is deleting a file. The table is created on first use and not
migrated: entries are disposable, and a change of shape bumps the cache's key version instead.

Every operation is bounded (a 250 ms busy timeout on SQLite, the engine's short connect timeout on
PostgreSQL) and never raises: a failure is a miss or a skipped write, counted on ``errors``.

On SQLite the two hot statements run on one plain ``sqlite3`` connection per thread, opened with the
store's own pragmas (WAL, ``synchronous=NORMAL``): through SQLAlchemy's pool (checkout, pre-ping,
BEGIN, commit) a lookup cost 75 µs of CPU and a write 100 µs, against 2 µs and 14 µs here, which
is the difference between a cache that costs a tenth of a call and one that costs a third.

Writes are behind: ``set`` queues the entry (a lookup in this process sees it at once) and a writer
thread stores what queued in one transaction every :data:`FLUSH_EVERY` seconds, so a burst of misses
costs one commit instead of one each; ``close()`` and interpreter exit store what is left.
"""

from __future__ import annotations

import atexit
import sqlite3
import threading
import time
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from ._engine import _sqlite_pragmas, create_engine, normalize_url, sqlite_path

__all__ = ["SqlCacheStore"]

BUSY_TIMEOUT_MS = 250
"""How long a cache operation waits for another writer before giving up (a miss, not a hang)."""
PRUNE_EVERY = 1_000
"""Expired rows are deleted once every this many writes."""
FLUSH_EVERY = 0.05
"""Seconds between two batches of queued writes."""
IDLE_AFTER = 2.0
"""Seconds without a write after which the writer thread ends (the next write starts another)."""
_OPEN: weakref.WeakSet[SqlCacheStore] = weakref.WeakSet()

_GET = "SELECT value FROM steadyhand_cache WHERE key = ? AND expires_at > ?"
_SET = (
    "INSERT INTO steadyhand_cache (key, expires_at, value) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at, value = excluded.value"
)
_PRUNE = "DELETE FROM steadyhand_cache WHERE expires_at <= ?"

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
        self._path = sqlite_path(self.url) if self._sqlite else None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._raw: list[sqlite3.Connection] = []
        self._pending: dict[str, tuple[float, bytes]] = {}
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._closed = False
        _OPEN.add(self)

    def _conn(self) -> sqlite3.Connection | None:
        """This thread's plain SQLite connection (``None`` off SQLite or for an in-memory database)."""
        if self._path is None:
            return None
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self._create()
            conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            _sqlite_pragmas(conn, None)
            _short_busy_timeout(conn, None)
            self._local.conn = conn
            with self._lock:
                self._raw.append(conn)
        return conn

    def _create(self) -> None:
        if not self._ready:
            _metadata.create_all(self._engine, checkfirst=True)
            self._ready = True

    def get(self, key: str) -> bytes | None:
        from ..policies.cache_store import note_failure

        now = time.time()
        queued = self._pending.get(key)
        if queued is not None:
            return queued[1] if queued[0] > now else None
        try:
            raw = self._conn()
            if raw is not None:
                row = raw.execute(_GET, (key, now)).fetchone()
            else:
                self._create()
                with self._engine.connect() as conn:
                    row = conn.execute(self._select, {"k": key, "now": now}).first()
        except Exception as error:
            note_failure(self, "read", error)
            return None
        return None if row is None else bytes(row[0])

    def set(self, key: str, value: bytes, ttl: float) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending[key] = (time.time() + ttl, value)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_behind, name="steadyhand-cache", daemon=True
                )
                self._writer.start()

    def _write_behind(self) -> None:
        """Store the queue every FLUSH_EVERY seconds; leave after IDLE_AFTER seconds without writes."""
        idle = 0.0
        while True:
            self._wake.wait(FLUSH_EVERY)
            with self._lock:
                if self._closed or (not self._pending and idle >= IDLE_AFTER):
                    self._writer = None
                    break
            idle = 0.0 if self.flush() else idle + FLUSH_EVERY
        self._close_own_connection()

    def _close_own_connection(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._lock:
                if conn in self._raw:
                    self._raw.remove(conn)
            conn.close()

    def flush(self) -> int:
        """Store every queued write now (one transaction); returns how many were queued."""
        from ..policies.cache_store import note_failure

        with self._lock:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, {}
        rows = [(key, expires, value) for key, (expires, value) in batch.items()]
        try:
            raw = self._conn()
            if raw is not None:
                raw.execute("BEGIN IMMEDIATE")
                try:
                    raw.executemany(_SET, rows)
                    self._writes += len(rows)
                    if self._writes >= PRUNE_EVERY:
                        raw.execute(_PRUNE, (time.time(),))
                        self._writes = 0
                    raw.execute("COMMIT")
                except BaseException:
                    raw.execute("ROLLBACK")
                    raise
                return len(rows)
            self._create()
            with self._engine.begin() as conn:
                conn.execute(self._upsert, [{"key": k, "expires_at": e, "value": v} for k, e, v in rows])
                self._writes += len(rows)
                if self._writes >= PRUNE_EVERY:
                    conn.execute(sa.delete(entries).where(entries.c.expires_at <= time.time()))
                    self._writes = 0
        except Exception as error:
            note_failure(self, "write", error)
        return len(rows)

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)  # a local file: faster inline than a hop to a thread; bounded by the timeout

    async def aset(self, key: str, value: bytes, ttl: float) -> None:
        self.set(key, value, ttl)

    def close(self) -> None:
        """Store what is queued, stop the writer and close every connection."""
        self.flush()
        with self._lock:
            self._closed = True
            writer = self._writer
        self._wake.set()
        if writer is not None and writer is not threading.current_thread():
            writer.join(5)
        with self._lock:
            for conn in self._raw:
                conn.close()
            self._raw.clear()
        self._local = threading.local()
        self._engine.dispose()


@atexit.register
def _flush_at_exit() -> None:
    """Queued writes are stored before the interpreter exits (another process may be waiting on them)."""
    for store in list(_OPEN):
        store.flush()
