"""Every Python example in docs/simulator.md runs and prints what its ``#>`` lines say; examples that
assume `steadyhand sim --port 8900` get a live simulator's URL in its place."""

from __future__ import annotations

import pytest

from _docs import DOCS, Example, examples, run_example
from steadyhand.sim import SimServer

EXAMPLES = examples(DOCS / "simulator.md")


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_example_runs(example: Example) -> None:
    if "127.0.0.1:8900" in example.code:
        with SimServer() as sim:
            run_example(example, replace={"http://127.0.0.1:8900": sim.base_url})
            assert sim.requests
    else:
        run_example(example)
