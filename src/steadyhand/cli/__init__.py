"""The ``steadyhand`` command: a thin layer over the library, one module per command group."""

from __future__ import annotations

import sys

import typer

from . import configs, db, demo, keys, local, prompts, serve, sim, traces

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="steadyhand: the production harness for LLM features."
)


@app.callback()
def _root() -> None:
    """steadyhand: the production harness for LLM features."""


db.register(app)
traces.register(app)
sim.register(app)
demo.register(app)
local.register(app)
prompts.register(app)
serve.register(app)
keys.register(app)
configs.register(app)


def main() -> None:
    """The console script: every error is one line on stderr and a non-zero exit, never a traceback.

    Typer's usage errors (a bad option value, exit 2) come as a multi-line usage box; here they are one
    ``error:`` line that points at ``--help``, like the commands' own errors.
    """
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as e:  # Typer's (vendored) Click errors: usage errors, aborts
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError":  # the help is already printed
            sys.exit(2)
        format_message = getattr(e, "format_message", None)
        text = format_message() if callable(format_message) else "aborted"
        message = " ".join(str(text).replace("Value error, ", "").split())
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        typer.echo(f"error: {message}{hint}", err=True)
        sys.exit(getattr(e, "exit_code", 1))
    sys.exit(code if isinstance(code, int) else 0)
