"""Every example in the README runs: Python blocks against a live simulator, printing what their ``#>``
lines say; TOML blocks load as config."""

from __future__ import annotations

from pathlib import Path

import pytest

from _docs import REPO, Example, examples, run_example
from steadyhand import Config
from steadyhand.sim import SimServer

README = REPO / "README.md"
PYTHON = examples(README)


def blocks(lang: str) -> list[str]:
    return [e.code for e in examples(README, lang)]


def test_readme_has_examples() -> None:
    assert len(PYTHON) >= 2 and blocks("toml") and "make demo" in README.read_text()


@pytest.mark.parametrize("example", PYTHON, ids=lambda e: e.id)
def test_python_examples_run_and_print_what_they_say(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In an empty directory (the conftest's) with a scrubbed environment: the built-in default config."""
    with SimServer() as sim:
        monkeypatch.setenv("STEADYHAND_SIM_URL", sim.base_url)
        run_example(example)
        assert sim.requests, "the example never reached the simulator"


@pytest.mark.parametrize("text", blocks("toml"))
def test_toml_examples_are_valid_config(text: str, tmp_path: Path) -> None:
    path = tmp_path / "steadyhand.toml"
    path.write_text(text)
    config = Config.load(path, env={})
    for alias in config.models:
        target = config.resolve(alias)
        assert target.provider in config.providers
    assert config.resolve("legacy").api == "completions"
