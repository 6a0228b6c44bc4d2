"""``steadyhand db``: migrations and retention of the trace database."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

from .._config import Config
from ..errors import ConfigurationError, StoreError
from ..store import Store, open_store

__all__ = ["DatabaseUrl", "fail", "open_cli_store", "parse_duration", "read_store", "register"]

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="STEADYHAND_DATABASE_URL",
        show_envvar=True,
        help="sqlite:///PATH or postgresql://USER@HOST/DB (default: database_url in steadyhand.toml, "
        "else .steadyhand/steadyhand.db).",
    ),
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` → a timedelta; anything else is a usage error (exit 2)."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise typer.BadParameter(
            f"{text!r} is not a duration: use a positive number and a unit, e.g. 30d, 12h, 90m"
        )
    try:
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    except (OverflowError, ValueError):  # past timedelta's range (~2.7 million years)
        raise typer.BadParameter(
            f"{text!r} is too long: the most is {timedelta.max.days}d (use e.g. 36500d for a century)"
        ) from None


def open_cli_store(url: str | None, *, migrate: bool = True, create: bool = False) -> Store:
    """Open the store at ``url`` (``--database-url`` / ``STEADYHAND_DATABASE_URL``), else at the config's
    ``database_url`` (``steadyhand.toml``), else the default file; exit 1 with an actionable message.

    Only ``create=True`` (``db upgrade``) may create a database: everything else reads or changes what is
    there, and a typo in a URL must not look like an empty store.
    """
    where = "the URL came from --database-url / STEADYHAND_DATABASE_URL"
    try:
        if url is None:
            url = Config.load().database_url
            where = "the URL came from database_url in the config" if url is not None else _DEFAULT
        return open_store(url, migrate=migrate, create=create)
    except ConfigurationError as e:
        fail(str(e))
    except StoreError as e:
        fail(f"{e}; {where}")


_T = TypeVar("_T")


def read_store(url: str | None, read: Callable[[Store], _T], *, create: bool = False) -> tuple[_T, str]:
    """``read(store)`` on the store at ``url`` (as :func:`open_cli_store` finds it), and where that store
    is (its URL without a password); a store error exits 1 with its message."""
    with open_cli_store(url, create=create) as store:
        try:
            return read(store), store.safe_url
        except StoreError as e:
            fail(str(e))


_DEFAULT = (
    "this is the default database (no --database-url, STEADYHAND_DATABASE_URL or database_url in "
    "steadyhand.toml): run where your app writes its traces, or point at them with --database-url"
)


def fail(message: str) -> NoReturn:
    """The CLI's one way to report an error: one line naming the fix, exit 1, never a traceback."""
    line = " ".join(message.split())
    Console(stderr=True, width=max(80, len(line) + 10)).print(f"[red]error:[/] {line}", highlight=False)
    raise typer.Exit(1)


def _check_archive(path: Path) -> None:
    """A typo in ``--archive`` must not create a directory tree (nor fail after the database work)."""
    if path.is_dir():
        fail(f"--archive {path} is a directory: name a file in it, e.g. {path / 'pruned.jsonl'}")
    if not path.parent.is_dir():
        fail(f"--archive {path}: the directory {path.parent} does not exist; create it first or fix the path")


def register(app: typer.Typer) -> None:
    db = typer.Typer(no_args_is_help=True, help="The trace database: migrations and retention.")
    app.add_typer(db, name="db")

    @db.command("upgrade")
    def upgrade(database_url: DatabaseUrl = None) -> None:
        """Create the tables or migrate them to the latest version."""
        with open_cli_store(database_url, migrate=False, create=True) as store:
            try:
                store.upgrade()
            except StoreError as e:
                fail(str(e))
            Console().print(f"database at {store.safe_url} is at the latest version", highlight=False)

    @db.command("prune")
    def prune(
        older_than: Annotated[
            timedelta,
            typer.Option(
                "--older-than",
                parser=parse_duration,
                metavar="AGE",
                help="e.g. 30d, 12h, 90m",
                show_default=False,
            ),
        ],
        archive: Annotated[
            Path | None, typer.Option("--archive", help="Append the pruned traces to this JSONL file first.")
        ] = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Delete traces older than AGE (and blobs nothing references any more)."""
        if archive is not None:
            _check_archive(archive)
        with open_cli_store(database_url) as store:
            try:
                result = store.prune(older_than, archive_to=archive)
            except (StoreError, ConfigurationError) as e:
                fail(str(e))
            except OSError as e:
                fail(f"cannot write the archive {archive}: {e.strerror or e}; choose another --archive path")
        where = f"; archived to {result.archive}" if result.archive else ""
        Console().print(
            f"pruned {result.traces} traces, {result.spans} spans, {result.blobs} blobs{where}",
            highlight=False,
        )
