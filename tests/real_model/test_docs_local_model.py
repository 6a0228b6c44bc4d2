"""Every ```python example in docs/local-model.md runs against the real model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.real_model

DOC = Path(__file__).resolve().parents[2] / "docs" / "local-model.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.DOTALL)


def test_the_doc_has_examples() -> None:
    assert BLOCKS, f"no ```python examples found in {DOC}"


@pytest.mark.parametrize("code", BLOCKS, ids=[f"example-{i}" for i in range(len(BLOCKS))])
def test_example_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    assert capsys.readouterr().out.strip()  # the example printed its answers
