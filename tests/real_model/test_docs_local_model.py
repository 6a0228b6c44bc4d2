"""Every ```python example in docs/local-model.md runs against the real model, and what it prints is
checked: a real model's words are not fixed, so the checks are on the namespace (the answers' shape)."""

from __future__ import annotations

import json

import pytest

from _docs import DOCS, examples, run_example

pytestmark = pytest.mark.real_model

EXAMPLES = examples(DOCS / "local-model.md")


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) == 1, "a new example needs its own checks below"


def test_example_runs() -> None:
    ns = run_example(EXAMPLES[0], check=False)
    answer, reply = ns["answer"], ns["reply"]
    assert answer.text.strip() and 0 < answer.usage.output_tokens <= 16
    assert ns["streamed"] == answer.text
    assert isinstance(json.loads(reply.text)["name"], str)  # the schema's shape, from a 135M model
