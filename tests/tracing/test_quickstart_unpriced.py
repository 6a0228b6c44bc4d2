"""The tracing quickstart against a model the price table does not know: it prints unpriced, never crashes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from steadyhand.cli import app
from steadyhand.sim import SimServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "tracing-quickstart.md"
[EXAMPLE] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
NO_SIM_PRICES = 'version = "only-gpt"\n[models."gpt-4o-2024-08-06"]\ninput = 2.5\noutput = 10.0\n'


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


def test_an_unpriced_model_prints_unpriced(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prices.toml").write_text(NO_SIM_PRICES)
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    env = {
        "STEADYHAND_SIM_URL": sim.base_url,
        "STEADYHAND_DATABASE_URL": url,
        "STEADYHAND_PRICES": "prices.toml",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("STEADYHAND_CONFIG", raising=False)
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(EXAMPLE, str(DOC), "exec"), namespace)

    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "answer-question -> chat default sim-basic"
    assert printed[2] == "cost unpriced" and namespace["call"].span.cost_usd is None
    shown = CliRunner().invoke(app, ["traces", "show", namespace["span"].trace_id], env=env)
    assert shown.exit_code == 0, shown.output
    assert "unpriced" in shown.output and "$0.000000" not in shown.output
