"""``steadyhand db``: migrations and retention of the trace database."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from .._config import Config
from ..errors import ConfigurationError, StoreError
from ..store import Store, open_store

__all__ = ["DatabaseUrl", "fail", "open_cli_store", "parse_duration", "register"]

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
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def open_cli_store(url: str | None, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` (``--database-url`` / ``STEADYHAND_DATABASE_URL``), else at the config's
    ``database_url`` (``steadyhand.toml``), else the default file; exit 1 with an actionable message."""
    try:
        if url is None:
            url = Config.load().database_url
        return open_store(url, migrate=migrate)
    except (StoreError, ConfigurationError) as e:
        fail(str(e))


def fail(message: str) -> NoReturn:
    Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    db = typer.Typer(no_args_is_help=True, help="The trace database: migrations and retention.")
    app.add_typer(db, name="db")

    @db.command("upgrade")
    def upgrade(database_url: DatabaseUrl = None) -> None:
        """Create the tables or migrate them to the latest version."""
        with open_cli_store(database_url, migrate=False) as store:
            try:
                store.upgrade()
            except StoreError as e:
                fail(str(e))
            Console().print(f"database at {store!r} is at the latest version", highlight=False)

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
        with open_cli_store(database_url) as store:
            try:
                result = store.prune(older_than, archive_to=archive)
            except StoreError as e:
                fail(str(e))
        where = f"; archived to {result.archive}" if result.archive else ""
        Console().print(
            f"pruned {result.traces} traces, {result.spans} spans, {result.blobs} blobs{where}",
            highlight=False,
        )
