"""Engines: URL normalization, connection settings, error mapping and per-query deadlines.

Every database error leaves the store as :class:`StoreError` with a message that says what to do: the
tracer spools on that exception type and retries, so a database that is down must fail fast (2 s connect
timeout) and a database that is back must work again without a restart (``pool_pre_ping``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

from ..errors import StoreError, StoreRejected

__all__ = [
    "DEFAULT_PATH",
    "create_engine",
    "sqlite_path",
    "json_text",
    "deadline",
    "map_errors",
    "normalize_url",
    "mask_password",
    "write_transaction",
]

DEFAULT_PATH = Path(".steadyhand") / "steadyhand.db"
CONNECT_TIMEOUT_S = 2
WRITE_OPTION = "steadyhand_write"
_SQLITE_CHECK_EVERY = 2_000  # virtual-machine steps between two deadline checks

# sqlite3 binds an int, float or str at once, but a None or a bool first looks for an adapter and, finding
# none, raises and clears two formatted AttributeErrors (~1 us a value; span rows are full of NULLs: a
# tenth of the gateway's tracer-writer instructions, benchmarks/bench_gateway_instructions.py). Registered
# adapters are found in one dict lookup; these change no value (``.get`` of an empty dict returns None:
# NULL as before; a bool binds as its int either way).
# An adapter the app registered itself is left in place (``setdefault``).
_NULL: Callable[[None], None] = dict[None, None]().get
sqlite3.adapters.setdefault((type(None), sqlite3.PrepareProtocol), _NULL)
sqlite3.adapters.setdefault((bool, sqlite3.PrepareProtocol), int)


def normalize_url(url: str | None) -> str:
    """``None`` → the default SQLite file; ``postgresql://`` / ``postgres://`` → psycopg 3."""
    if url is None:
        return f"sqlite:///{DEFAULT_PATH}"
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise StoreError(
            f"unsupported database URL {mask_password(url)!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    return url


def mask_password(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparseable URL>"


def json_text(obj: Any) -> str:
    """JSON as stored: compact, non-ASCII kept (so text search matches what users typed)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names (``None`` for PostgreSQL and in-memory databases)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):  # a URI filename (?uri=true): leave it to SQLite
        return None
    return Path(parsed.database)


def create_engine(url: str, *, create: bool = True) -> Engine:
    """An engine tuned for trace ingest: WAL SQLite, or PostgreSQL with a short connect timeout.

    ``create=False`` opens only a SQLite file that exists (a reader must not conjure an empty store out
    of a typo); otherwise the file's directory is created on demand.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None and not create and not path.is_file():
            gone = "" if path.parent.is_dir() else f" (its directory {path.parent} does not exist either)"
            raise StoreError(
                f"no trace database at {path}{gone}: check the URL, or create an empty one with "
                "`steadyhand db upgrade` (a traced app creates it on first use)"
            )
        if path is not None and create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the directory for the trace database {path}: {exc.strerror or exc}; "
                    "fix the path in STEADYHAND_DATABASE_URL or database_url"
                ) from None
        engine = sa.create_engine(
            url, json_serializer=json_text, connect_args={"timeout": 30}, pool_pre_ping=True
        )
        event.listen(engine, "connect", _sqlite_pragmas if create else _sqlite_reader_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(
        url,
        json_serializer=json_text,
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=4,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "steadyhand"},
    )


WAL_CHECKPOINT_PAGES = 100
"""WAL pages a commit may leave before it checkpoints them (SQLite's default is 1,000)."""


def _sqlite_reader_pragmas(dbapi_conn: sqlite3.Connection, record: object) -> None:
    """As a writer's, without switching the file to WAL: a store steadyhand made is WAL already, and
    opening any other file to read must not rewrite it."""
    _sqlite_pragmas(dbapi_conn, record, wal=False)


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object, *, wal: bool = True) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    if wal:
        _switch_to_wal(cur)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    # A checkpoint copies the WAL's pages into the database in one call that cannot offer the core
    # (see steadyhand._sched): ~4 ms of CPU at SQLite's default of 1,000 pages, the slowest 1% of a traced
    # gateway's requests at one connection; at 100 it stays under half a millisecond.
    cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cur.close()


def _switch_to_wal(cur: sqlite3.Cursor, *, tries: int = 50) -> None:
    """``journal_mode=WAL``, retried: the switch needs the database to itself, and SQLite can answer
    "database is locked" at once, without waiting out the busy timeout, while other apps opening the
    same fresh file hold it. Hardening: 1 of 10 apps starting together once failed with "database is
    locked" under load, and this is the one statement of opening that does not wait (the failing
    statement was not captured)."""
    for attempt in range(tries):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.02 * (attempt + 1))


def _sqlite_begin(conn: Connection) -> None:
    """Writers take the write lock up front: a deferred transaction that reads then writes fails with
    "database is locked" when another writer committed in between (WAL snapshots cannot be upgraded)."""
    immediate = conn.get_execution_options().get(WRITE_OPTION)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's write lock from its start on SQLite."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def deadline(conn: Connection, seconds: float) -> Iterator[None]:
    """Bound the statements run inside: ``statement_timeout`` on PostgreSQL, a progress handler on SQLite.

    Must run inside a transaction on PostgreSQL (``SET LOCAL``).
    """
    ms = max(1, int(seconds * 1000))
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
        yield
        return
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, sqlite3.Connection)
    end = time.monotonic() + seconds
    raw.set_progress_handler(lambda: int(time.monotonic() > end), _SQLITE_CHECK_EVERY)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


def _is_timeout(err: exc.DBAPIError) -> bool:
    orig = err.orig
    if isinstance(orig, sqlite3.OperationalError):
        return "interrupted" in str(orig)
    return getattr(orig, "sqlstate", None) == "57014"  # query_canceled


def _is_missing_table(err: exc.DBAPIError) -> bool:
    orig = err.orig
    if isinstance(orig, sqlite3.OperationalError):
        return "no such table" in str(orig)
    return getattr(orig, "sqlstate", None) == "42P01"  # undefined_table


def _is_rejection(err: exc.DBAPIError) -> bool:
    """The records themselves were refused (a value out of range, too long, invalid; a constraint), as
    opposed to the database (permissions, resources, a missing table): only those are put aside."""
    orig = err.orig
    if isinstance(orig, sqlite3.Error):
        return isinstance(orig, sqlite3.IntegrityError | sqlite3.DataError | sqlite3.ProgrammingError)
    state = getattr(orig, "sqlstate", None) or ""
    return state.startswith(("22", "23"))  # data_exception, integrity_constraint_violation


@contextmanager
def map_errors(url: str, *, timeout: float | None = None) -> Iterator[None]:
    """Turn driver and SQLAlchemy errors into :class:`StoreError` that say what to do.

    The URL is masked only for a message: parsing it cost every trace batch ~60k instructions."""
    try:
        yield
    except exc.DBAPIError as e:
        where = mask_password(url)
        if _is_timeout(e):
            raise StoreError(
                f"query took longer than {timeout or 0:g} s; narrow the filter (time range, model, tag)"
            ) from e
        if _is_missing_table(e):
            raise StoreError(
                f"the database at {where} has no steadyhand tables: run `steadyhand db upgrade`"
            ) from e
        if e.connection_invalidated or isinstance(e, exc.OperationalError | exc.InterfaceError):
            raise StoreError(
                f"cannot reach the database at {where}: start it or set STEADYHAND_DATABASE_URL ({e.orig})"
            ) from e
        error = StoreRejected if _is_rejection(e) else StoreError
        raise error(f"the database at {where} refused the operation: {e.orig}") from e
    except exc.SQLAlchemyError as e:
        raise StoreError(f"trace store error on {mask_password(url)}: {e}") from e
