"""Structured extraction on the real SmolLM2-135M: ``json_object_schema`` (llama.cpp's grammar) and
``text`` + cleanup both give validated values; the full 30-input comparison is
benchmarks/bench_structured_local.py."""

from __future__ import annotations

from typing import Any

import pytest

from steadyhand import Client, StructuredOutputError
from steadyhand._config import Config
from structured.extraction import CASES, Person, messages

pytestmark = pytest.mark.real_model

OPTIONS: dict[str, Any] = {"temperature": 0.0, "seed": 7, "max_tokens": 80}


def test_the_grammar_mode_always_gives_a_valid_value(config: Config) -> None:
    with Client(config) as client:
        results = [
            client.structured(messages(text), schema=Person, model="local", **OPTIONS)
            for text, _ in CASES[:5]
        ]
    assert {r.mode for r in results} == {"json_object_schema"}  # chosen from the llama_cpp profile
    assert all(isinstance(r.value, Person) and r.outcome == "clean" and r.reasks == 0 for r in results)
    assert all((r.usage.input_tokens or 0) > 0 and (r.usage.output_tokens or 0) > 0 for r in results)
    assert sum(r.value == expected for r, (_, expected) in zip(results, CASES, strict=False)) >= 2


def test_text_mode_with_cleanup_mostly_succeeds(config: Config) -> None:
    valid = 0
    with Client(config) as client:
        for text, _ in CASES[:5]:
            try:
                result = client.structured(
                    messages(text), schema=Person, model="local", mode="text", **OPTIONS
                )
            except StructuredOutputError as exc:
                assert exc.attempts and all(a.mode == "text" for a in exc.attempts)
                continue
            assert result.mode == "text" and isinstance(result.value, Person)
            valid += 1
    assert valid >= 4
