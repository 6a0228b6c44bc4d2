"""Every ```python block in docs/policies.md runs (against an in-process simulator where it needs one)
and prints what its ``#>`` lines say."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from _docs import DOCS, Example, examples, run_example
from services import RedisServer
from steadyhand import Client
from steadyhand.sim import SimServer

EXAMPLES = examples(DOCS / "policies.md")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_docs_example_runs(example: Example, sim: SimServer, redis_server: RedisServer) -> None:
    replace = {
        '"http://127.0.0.1:8900"': repr(sim.base_url),
        '"redis://127.0.0.1:6379/0"': repr(redis_server.url),
    }
    namespace = run_example(example, replace=replace)
    for value in namespace.values():
        if isinstance(value, Client):
            value.close()


def test_the_policies_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 10
