"""``steadyhand keys``: the gateway's API keys (create prints a key once; the store keeps its hash)."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.table import Table

from ..errors import ConfigurationError
from .db import DatabaseUrl, fail, read_store


def register(app: typer.Typer) -> None:
    keys = typer.Typer(no_args_is_help=True, help="API keys for `steadyhand serve`: create, list, revoke.")
    keys.command("create")(create)
    keys.command("list")(list_keys)
    keys.command("revoke")(revoke)
    app.add_typer(keys, name="keys")


def create(
    project: str = typer.Option(..., help="The project the key's calls are traced and billed under."),
    models: str | None = typer.Option(None, help="Comma-separated models the key may use (default: all)."),
    budget_usd: float | None = typer.Option(None, help="Most the key may spend per --period, in USD."),
    period: str | None = typer.Option(None, help="Budget period: day, week, month (default) or total."),
    rpm: int | None = typer.Option(None, help="Requests per minute the key may make."),
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key and print it once: it cannot be shown again (only its hash is stored)."""
    from ..server.keys import new_key

    allowed = [m.strip() for m in models.split(",") if m.strip()] if models else None
    try:
        key, row = new_key(project, models=allowed, rpm=rpm, budget_usd=budget_usd, period=period)
    except ConfigurationError as e:
        fail(str(e))
    read_store(database_url, lambda store: store.create_key(row), create=True)
    typer.echo(key)
    typer.echo(
        f"key id {row.id} for project {row.project}: store the key now, it is not shown again", err=True
    )


def list_keys(
    project: str | None = typer.Option(None, help="Only this project's keys."),
    database_url: DatabaseUrl = None,
) -> None:
    """The keys (never the keys themselves): id, project, limits, created and revoked times."""
    rows, _ = read_store(database_url, lambda store: store.list_keys(project=project))
    table = Table("id", "project", "models", "rpm", "budget", "created", "status")
    for row in rows:
        budget = f"${row.budget_usd:g}/{row.period}" if row.budget_usd is not None else "-"
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(row.created_at))
        status = (
            "active"
            if row.revoked_at is None
            else "revoked " + time.strftime("%Y-%m-%d", time.gmtime(row.revoked_at))
        )
        table.add_row(
            row.id,
            row.project,
            ",".join(row.models or []) or "all",
            str(row.rpm or "-"),
            budget,
            created,
            status,
        )
    Console(width=160).print(table)


def revoke(
    key_id: str = typer.Argument(..., help="The key's id (from `keys list`)."),
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: the gateways refuse it within seconds."""
    done, _ = read_store(database_url, lambda store: store.revoke_key(key_id))
    if not done:
        fail(f"no active key {key_id!r}; see `steadyhand keys list`")
    typer.echo(f"revoked {key_id}")
