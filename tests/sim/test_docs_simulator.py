"""Every Python example in docs/simulator.md runs; examples that assume `steadyhand sim --port 8900`
get a live simulator's URL in its place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from steadyhand.sim import SimServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_example_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    if "127.0.0.1:8900" in code:
        with SimServer() as sim:
            exec(compile(code.replace("http://127.0.0.1:8900", sim.base_url), str(DOC), "exec"), {})
            assert sim.requests
    else:
        exec(compile(code, str(DOC), "exec"), {})
    assert capsys.readouterr().out.strip()
