"""``steadyhand traces doctor``: dead letters, spool state and writer health, in one command.

Exits 1 when something needs attention (each problem says what to do), 0 when all is well; it only
reads: no spool or database is created, replayed or migrated.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import StoreError
from ..store import Store
from ..tracing.doctor import Diagnosis, diagnose
from ..tracing.tracer import DEFAULT_SPOOL_DIR
from .db import DatabaseUrl

__all__ = ["register"]


def _database_problem(url: str | None) -> tuple[str, str | None]:
    """(what to print, the problem if any) for the database, opened without migrating or creating it."""
    from .._config import Config

    try:
        if url is None:
            url = Config.load().database_url
        if url is not None and url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not path.exists():
                return f"database {url}: no file", f"no database at {path}: run `steadyhand db upgrade`"
        with Store(url) as store:
            if not store.at_head():
                return (
                    f"database {store!r}: behind",
                    "the database is not at the latest migration: run `steadyhand db upgrade`",
                )
            return f"database {store!r}: ok, at the latest migration", None
    except StoreError as e:
        return f"database: {e}", str(e)


def _print(d: Diagnosis, console: Console, show: int) -> None:
    records = [e for e in d.dead_letters if e.is_record]
    console.print(
        f"spool root {d.root}: {len(d.spools)} spool(s), {len(records)} dead letter(s)", highlight=False
    )
    if d.dead_letters:
        table = Table("when", "source", "span", "reason")
        for e in d.dead_letters[-show:]:
            span = " ".join(x for x in (e.span_id, e.name and repr(e.name[:40])) if x) or "-"
            when = datetime.fromtimestamp(e.time).strftime("%Y-%m-%d %H:%M:%S") if e.time else "-"
            table.add_row(when, e.source, span, e.reason[:200])
        console.print(table)
    if d.spools:
        table = Table("spool", "process", "segments", "pending bytes", "writer")
        for s in d.spools:
            w = s.writer
            writer = (
                "-"
                if w is None
                else f"pid {w.get('pid')}, written {w.get('written')}, errors {w.get('store_errors')}"
            )
            table.add_row(
                s.path.name, "running" if s.live else "dead", str(s.segments), str(s.pending_bytes), writer
            )
        console.print(table)


def register(traces: typer.Typer) -> None:
    @traces.command("doctor")
    def doctor(
        spool_dir: Annotated[
            Path, typer.Option("--spool-dir", help="The Tracer's spool_dir (where dead letters are kept).")
        ] = DEFAULT_SPOOL_DIR,
        show: Annotated[int, typer.Option(min=1, help="How many of the latest dead letters to list.")] = 20,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Dead letters, spool state and writer health; exits 1 when something needs attention."""
        console = Console() if Console().is_terminal else Console(width=200)
        diagnosis = diagnose(spool_dir)
        _print(diagnosis, console, show)
        line, problem = _database_problem(database_url)
        console.print(line, highlight=False)
        problems = diagnosis.problems + ([problem] if problem else [])
        for p in problems:
            console.print(f"[red]needs attention:[/] {p}", highlight=False)
        if problems:
            raise typer.Exit(1)
        console.print("[green]all well[/]: nothing put aside, every spool is being written")
