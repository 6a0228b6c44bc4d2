"""Every example in the README runs: Python blocks against a live simulator, TOML blocks as config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from steadyhand import Config
from steadyhand.sim import SimServer

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(lang: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(README.read_text()) if kind == lang]


def test_readme_has_examples() -> None:
    assert len(blocks("python")) >= 2 and blocks("toml") and "make demo" in README.read_text()


@pytest.mark.parametrize("code", blocks("python"), ids=lambda c: c.splitlines()[0])
def test_python_examples_run(
    code: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no steadyhand.toml: the built-in default config applies
    with SimServer() as sim:
        monkeypatch.setenv("STEADYHAND_SIM_URL", sim.base_url)
        exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
        assert sim.requests, "the example never reached the simulator"
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("text", blocks("toml"))
def test_toml_examples_are_valid_config(text: str, tmp_path: Path) -> None:
    path = tmp_path / "steadyhand.toml"
    path.write_text(text)
    config = Config.load(path, env={})
    for alias in config.models:
        target = config.resolve(alias)
        assert target.provider in config.providers
    assert config.resolve("legacy").api == "completions"
