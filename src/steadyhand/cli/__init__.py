"""The ``steadyhand`` command: a thin layer over the library, one module per command group."""

from __future__ import annotations

import typer

from . import db, demo, local, sim, traces

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


def main() -> None:
    app()
