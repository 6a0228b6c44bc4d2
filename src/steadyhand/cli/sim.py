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
    port: int = typer.Option(8900, help="Port to listen on, 1 to 65535 (0 picks a free one)."),
    scenario: Path | None = typer.Option(None, help="Scenario file (.yaml, .yml or .toml)."),
    seed: int | None = typer.Option(None, help="Seed for the faults' RNG (default: the scenario's, else 0)."),
    record: int = typer.Option(
        0, help="Keep the last N requests in memory (for debugging); 0 keeps none, so memory stays flat."
    ),
    read_timeout: float = typer.Option(30.0, help="Seconds to receive a whole request before a 408."),
    idle_timeout: float = typer.Option(60.0, help="Seconds an idle kept-alive connection stays open."),
) -> None:
    """Serve a fault-injecting OpenAI/Anthropic look-alike until Ctrl-C or SIGTERM."""
    try:
        server = SimServer(
            scenario,
            host=host,
            port=port,
            seed=seed,
            record_limit=record,
            read_timeout=read_timeout,
            idle_timeout=idle_timeout,
        )
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
