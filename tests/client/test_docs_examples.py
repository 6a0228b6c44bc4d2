"""Every ```python block in docs/client.md and docs/configuration.md runs against an in-process simulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from steadyhand import Client
from steadyhand.sim import SimServer

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, str]]:
    out = []
    for name in ("client.md", "configuration.md"):
        for i, code in enumerate(BLOCK.findall((DOCS / name).read_text())):
            out.append((f"{name}#{i}", code))
    return out


@pytest.mark.parametrize(("where", "code"), _blocks(), ids=[w for w, _ in _blocks()])
def test_docs_example_runs(
    where: str, code: str, sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray steadyhand.toml
    for key in ("STEADYHAND_CONFIG", "STEADYHAND_CASSETTE", "STEADYHAND_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("STEADYHAND_SIM_URL", sim.base_url)
    code = code.replace('"http://127.0.0.1:8900"', repr(sim.base_url))  # literal defaults in examples
    namespace: dict[str, object] = {"__name__": "__docs__"}
    exec(compile(code, where, "exec"), namespace)
    for value in namespace.values():  # a script's clients are closed at exit; close the short example's
        if isinstance(value, Client):
            value.close()


def test_docs_have_examples() -> None:
    assert len(_blocks()) >= 8
