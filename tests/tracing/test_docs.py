"""Every ```python example in docs/tracing.md runs and prints what its ``#>`` lines say."""

from __future__ import annotations

import pytest

from _docs import DOCS, Example, examples, run_example

EXAMPLES = examples(DOCS / "tracing.md")


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_example_runs(example: Example) -> None:
    run_example(example)  # in the conftest's empty working directory
