"""Every ```python block of docs/tracing-store.md runs and checks what it shows."""

from __future__ import annotations

from _docs import DOCS, examples, run_example


def test_python_examples_in_the_store_guide_run() -> None:
    blocks = examples(DOCS / "tracing-store.md")
    assert blocks, "the guide should show how to use the store"
    for block in blocks:
        run_example(block)
