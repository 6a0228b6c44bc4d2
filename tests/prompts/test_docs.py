"""docs/prompts.md runs: its TOML block is the prompt file, its Markdown block the same prompt with the same
version, its Python blocks run in order (one namespace) against the simulator and print what their
``#>`` lines say, and its ``$ steadyhand prompts ...`` commands exit 0 on the store they left behind."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _docs import DOCS, examples, run_example
from steadyhand.cli import app
from steadyhand.prompts import load, parse
from steadyhand.sim import SimServer

DOC = DOCS / "prompts.md"


def test_every_example_of_the_prompts_guide_runs(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEADYHAND_SIM_URL", sim.base_url)
    monkeypatch.setenv("STEADYHAND_USER", "dana")
    (toml,) = examples(DOC, "toml")
    Path("prompts").mkdir()
    Path("prompts/classify_ticket.toml").write_text(toml.code)
    (markdown,) = examples(DOC, "markdown")
    as_markdown = parse(markdown.code, name="classify_ticket", markdown=True)
    assert as_markdown.version == load("classify_ticket").version

    blocks = examples(DOC)
    assert len(blocks) >= 8
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for block in blocks:
        run_example(block, namespace)

    version = load("classify_ticket").version
    commands = [
        shlex.split(line.removeprefix("$ "))[1:]
        for block in examples(DOC, "console")
        for line in block.code.splitlines()
        if line.startswith("$ steadyhand ")
    ]
    assert len(commands) >= 6
    runner = CliRunner()
    for command in commands:
        args = [version if a == "VERSION" else a for a in command]
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, (args, result.output)
