"""``steadyhand local``: a real self-hosted model (llama.cpp + SmolLM2-135M) on loopback.

``serve`` runs it in the foreground and prints the provider config to use; ``demo`` tours the model
layer against it. Both need the ``local`` extra and say how to install it when it is missing.
"""

from __future__ import annotations

import signal
from types import FrameType

import typer

from ..errors import ConfigurationError
from ..local import LocalExtraMissing, LocalModelServer, LocalServerError, PortUnavailable, config_snippet

local_app = typer.Typer(
    no_args_is_help=True, help="A real self-hosted model: llama.cpp serving SmolLM2-135M."
)


def register(app: typer.Typer) -> None:
    """Add the ``local`` command group to ``app``."""
    app.add_typer(local_app, name="local")


def _start(server: LocalModelServer) -> None:
    try:
        server.start()
    except (LocalExtraMissing, PortUnavailable) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (LocalServerError, ConfigurationError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@local_app.command("serve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (keep it on loopback)."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port to listen on (0 picks a free one)."),
    n_ctx: int = typer.Option(2048, "--n-ctx", min=1, help="Context window in tokens."),
    startup_timeout: float = typer.Option(60.0, min=1, help="Seconds to wait for the server to answer."),
) -> None:
    """Serve the bundled SmolLM2-135M with llama.cpp until Ctrl-C.

    Arguments after `--` go to the llama.cpp server as they are, after steadyhand's own, so they win:
    `steadyhand local serve -- --n_ctx 4096 --n_batch 512`.
    """
    server = LocalModelServer(
        host=host, port=port, n_ctx=n_ctx, startup_timeout=startup_timeout, extra_args=tuple(ctx.args)
    )
    _start(server)
    typer.echo(f"llama.cpp serving {server.model_name} at {server.base_url}")
    typer.echo("\nsteadyhand.toml:\n")
    typer.echo(config_snippet(server))
    typer.echo("Ctrl-C to stop.")
    signal.signal(signal.SIGTERM, _interrupt)  # stop as cleanly on `kill` as on Ctrl-C
    try:
        code = server.wait()  # returns early only if the server dies (or got the terminal's Ctrl-C)
        if code != 0:
            typer.echo(f"error: the llama.cpp server exited with code {code}:\n{server.log_tail()}", err=True)
            raise typer.Exit(1)
        typer.echo("stopped")
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.stop()


@local_app.command("demo")
def demo(n_ctx: int = typer.Option(2048, "--n-ctx", help="Context window in tokens.")) -> None:
    """Tour the model layer against the real model: chat, stream (TTFT), JSON via the profile, truncation."""
    from ..local.demo import run_demo  # Rich and the client: loaded only for the demo

    server = LocalModelServer(n_ctx=n_ctx)
    _start(server)
    try:
        code = run_demo(server)
    finally:
        server.stop()
    raise typer.Exit(code)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
