"""Every ```python block in docs/providers.md runs, in order, in one namespace, checking what it shows."""

from __future__ import annotations

from _docs import DOCS, examples, run_example


def test_provider_docs_examples_run() -> None:
    blocks = examples(DOCS / "providers.md")
    assert len(blocks) >= 4
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for block in blocks:
        run_example(block, namespace)
