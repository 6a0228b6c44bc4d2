"""Every Python example in docs/structured.md runs, in order in one namespace, against an in-process
simulator, and prints what its ``#>`` lines say."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from _docs import DOCS, examples, run_example
from steadyhand.sim import SimServer

EXAMPLES = examples(DOCS / "structured.md")


def test_the_doc_has_an_example_per_part() -> None:
    assert len(EXAMPLES) >= 10


def test_every_example_runs_and_prints_what_it_says(monkeypatch: pytest.MonkeyPatch) -> None:
    with SimServer() as sim:
        monkeypatch.setenv("STEADYHAND_SIM_URL", sim.base_url)
        module = types.ModuleType("docs_structured_example")  # pydantic resolves annotations through it
        monkeypatch.setitem(sys.modules, module.__name__, module)
        namespace: dict[str, Any] = module.__dict__
        for example in EXAMPLES:
            run_example(example, namespace)
        assert sim.requests
