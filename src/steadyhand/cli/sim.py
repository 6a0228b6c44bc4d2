"""``steadyhand sim``: run the provider simulator in the foreground."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import typer

from ..errors import ConfigurationError
from ..sim import SimServer


def register(app: typer.Typer) -> None:
    """Add the ``sim`` command to ``app``."""
    app.command("sim")(sim)


def sim(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8900, help="Port to listen on (0 picks a free one)."),
    scenario: Path | None = typer.Option(None, help="Scenario file (.yaml, .yml or .toml)."),
    seed: int | None = typer.Option(None, help="Seed for the faults' RNG (default: the scenario's, else 0)."),
) -> None:
    """Serve a fault-injecting OpenAI/Anthropic look-alike until Ctrl-C."""
    try:
        server = SimServer(scenario, host=host, port=port, seed=seed)
        server.start()
    except (ConfigurationError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"steadyhand sim listening on {server.base_url}", err=False)
    typer.echo(f"  OpenAI base URL:    {server.base_url}/v1")
    typer.echo(f"  Anthropic base URL: {server.base_url}")
    signal.signal(signal.SIGTERM, _interrupt)  # stop as cleanly on `kill` as on Ctrl-C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
