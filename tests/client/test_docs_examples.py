"""Every ```python block in docs/client.md and docs/configuration.md runs against an in-process simulator
and prints what its ``#>`` lines say."""

from __future__ import annotations

import pytest

from _docs import DOCS, Example, examples, run_example
from steadyhand import Client
from steadyhand.sim import SimServer

EXAMPLES = [e for name in ("client.md", "configuration.md") for e in examples(DOCS / name)]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_docs_example_runs(example: Example, sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEADYHAND_SIM_URL", sim.base_url)  # the conftest scrubbed the rest
    namespace = run_example(example, replace={'"http://127.0.0.1:8900"': repr(sim.base_url)})
    for value in namespace.values():  # a script's clients are closed at exit; close the short example's
        if isinstance(value, Client):
            value.close()


def test_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 8
