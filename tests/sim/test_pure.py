"""The pure pieces: tokenizer, duration strings, schema instances, sliding window."""

from __future__ import annotations

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steadyhand.sim.ratelimit import SlidingWindow, duration
from steadyhand.sim.schema_instance import instance_of
from steadyhand.sim.tokens import count_tokens, split_pieces


@given(st.text())
def test_pieces_join_back_and_match_the_count(text: str) -> None:
    pieces = split_pieces(text)
    assert "".join(pieces) == text
    assert len(pieces) == max(count_tokens(text), 1 if text else 0)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.012, "12ms"), (1, "1s"), (1.5, "1.5s"), (360, "6m0s"), (3725, "1h2m5s")]
)
def test_duration_strings(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}, "b": {"enum": ["x", "y"]}}},
        {"type": "array", "items": {"type": "string", "minLength": 12, "format": "date"}, "minItems": 2},
        {"$defs": {"P": {"type": "object", "properties": {"n": {"type": ["null", "number"]}},
                         "required": ["n"]}}, "anyOf": [{"$ref": "#/$defs/P"}]},
        {"allOf": [{"type": "object", "properties": {"k": {"const": 1}}, "required": ["k"]}]},
    ],
)  # fmt: skip
def test_schema_instances_validate(schema: dict[str, object]) -> None:
    jsonschema.validate(instance_of(schema), schema)


def test_sliding_window_tokens_free_up_in_order() -> None:
    window = SlidingWindow(rpm=None, tpm=100)
    assert window.acquire(60, 0.0).retry_after is None
    assert window.acquire(30, 10.0).retry_after is None
    refused = window.acquire(50, 20.0)
    assert refused.exceeded == "tokens" and refused.retry_after == pytest.approx(40.0)
    assert window.acquire(50, 60.5).retry_after is None
