"""``steadyhand configs``: the configurations gateways served, as stored once per hash.

A gateway span carries its configuration's hash (``steadyhand traces show`` prints it); ``configs
show HASH`` prints that configuration as JSON (secrets masked), ``configs list`` the stored ones.
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .db import DatabaseUrl, fail, read_store

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``configs`` group to ``app``."""
    configs = typer.Typer(
        no_args_is_help=True, help="Configurations `steadyhand serve` served, once per hash: list, show."
    )
    configs.command("list")(list_configs)
    configs.command("show")(show)
    app.add_typer(configs, name="configs")


def list_configs(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many configurations.")] = 20,
    database_url: DatabaseUrl = None,
) -> None:
    """The stored configurations, most recently first seen first: hash, when, providers and aliases."""
    rows, source = read_store(database_url, lambda store: store.list_configs(limit=limit))
    table = Table(
        "hash", "first seen", "providers", "models", title=f"{len(rows)} configurations in {source}"
    )
    for row in rows:
        providers = row.document.get("providers") or {}
        models = row.document.get("models") or {}
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row.created_at))
        table.add_row(row.hash, when, ", ".join(sorted(providers)), ", ".join(sorted(models)))
    Console(width=200).print(table)


def show(
    config_hash: Annotated[str, typer.Argument(metavar="HASH", help="From `traces show` or `configs list`.")],
    database_url: DatabaseUrl = None,
) -> None:
    """One configuration as JSON (keys sorted, secrets masked), exactly as it was served."""
    row, source = read_store(database_url, lambda store: store.get_config(config_hash))
    if row is None:
        fail(f"no configuration {config_hash!r} in {source}: list them with `steadyhand configs list`")
    typer.echo(json.dumps(row.document, indent=2, sort_keys=True, ensure_ascii=False))
