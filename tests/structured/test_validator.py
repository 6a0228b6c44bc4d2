"""steadyhand's small JSON Schema validator agrees with ``jsonschema`` on the keywords it supports,
and the strict-mode adaptation and mode choice follow their rules."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import steadyhand
from steadyhand import ConfigurationError, OutputParseError, StructuredOutputError
from steadyhand.providers.capabilities import ANTHROPIC, LLAMA_CPP, OPENAI, OPENAI_COMPATIBLE
from steadyhand.structured import mode_for, strict_schema
from steadyhand.structured._validator import validate
from steadyhand.structured.modes import check_mode

SCALAR_SCHEMAS = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer"},
        {"type": "number", "minimum": 0},
        {"type": "boolean"},
        {"type": "null"},
        {"type": ["string", "null"]},
        {"enum": ["a", "b", 1, None]},
        {"const": 3},
        {"type": "string", "minLength": 2, "maxLength": 4},
        {"type": "string", "pattern": "^a"},
        {"type": "integer", "exclusiveMaximum": 10, "multipleOf": 2},
        {},
    ]
)
SCHEMAS = st.recursive(
    SCALAR_SCHEMAS,
    lambda inner: st.one_of(
        st.builds(
            lambda props, req, extra: {
                "type": "object",
                "properties": props,
                "required": [k for k in props if k in req],
                "additionalProperties": extra,
            },
            st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
            st.sets(st.sampled_from(["a", "b", "c"])),
            st.booleans(),
        ),
        st.builds(
            lambda items, low: {"type": "array", "items": items, "minItems": low}, inner, st.integers(0, 2)
        ),
        st.builds(lambda a, b: {"anyOf": [a, b]}, inner, inner),
        st.builds(lambda a, b: {"oneOf": [a, b]}, inner, inner),
        st.builds(lambda a: {"not": a}, inner),
    ),
    max_leaves=6,
)
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-20, 20)
    | st.floats(-20, 20, allow_nan=False)
    | st.text("abc", max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(SCHEMAS, VALUES)
@settings(max_examples=600)
def test_the_validator_agrees_with_jsonschema(schema: dict[str, Any], value: Any) -> None:
    expected = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert (validate(value, schema) == []) == expected, validate(value, schema)


def test_refs_and_error_paths() -> None:
    schema = {
        "$defs": {
            "item": {"type": "object", "properties": {"qty": {"type": "integer"}}, "required": ["qty"]}
        },
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
    }
    assert validate({"items": [{"qty": 1}, {"qty": "x"}, {}]}, schema) == [
        'items[1].qty: expected integer, got string "x"',
        "items[2].qty: field required",
    ]
    assert validate({"items": [{}]}, schema, partial=True) == []


class Inner(BaseModel):
    x: int
    note: str | None = None


class Outer(BaseModel):
    name: str
    inner: Inner
    tags: list[str] = []


def test_strict_mode_adaptation_requires_every_field_and_closes_every_object() -> None:
    adapted = strict_schema(Outer.model_json_schema())
    assert adapted is not None
    assert adapted["required"] == ["name", "inner", "tags"] and adapted["additionalProperties"] is False
    inner = adapted["$defs"]["Inner"]
    assert inner["required"] == ["x", "note"] and inner["additionalProperties"] is False
    assert {"type": "null"} in inner["properties"]["note"]["anyOf"]
    assert (
        adapted["properties"]["tags"]["type"] == ["array", "null"]
        and "default" not in adapted["properties"]["tags"]
    )
    assert strict_schema({"type": "array"}) is None  # strict mode wants an object at the root
    assert strict_schema({"type": "object", "additionalProperties": {"type": "integer"}}) is None


def test_the_mode_per_profile_and_explicit_modes() -> None:
    assert [mode_for(c, "chat") for c in (OPENAI, LLAMA_CPP, OPENAI_COMPATIBLE)] == [
        "json_schema",
        "json_object_schema",
        "json_object",
    ]
    assert mode_for(ANTHROPIC, "messages") == "tool" and mode_for(OPENAI, "completions") == "text"
    assert mode_for(OPENAI, "responses") == "json_schema"  # realized as text.format
    check_mode("tool", OPENAI, "chat")
    with pytest.raises(ConfigurationError, match="best available: 'json_object'"):
        check_mode("json_schema", OPENAI_COMPATIBLE, "chat")
    with pytest.raises(ConfigurationError):
        check_mode("tool", LLAMA_CPP, "chat")


def test_errors_pickle_with_their_fields() -> None:
    parse = pickle.loads(pickle.dumps(OutputParseError("x", outcome="failed", text="t", errors=("e",))))
    assert (parse.outcome, parse.text, parse.errors) == ("failed", "t", ("e",))
    failed = pickle.loads(pickle.dumps(StructuredOutputError("y", reason="budget", last_output="o")))
    assert (failed.reason, failed.last_output) == ("budget", "o")


def test_importing_the_client_loads_neither_json_repair_nor_the_structured_package() -> None:
    src = str(Path(steadyhand.__file__).parents[1])  # this checkout, whatever is installed
    code = (
        f"import sys; sys.path.insert(0, {src!r}); import steadyhand; "
        f"assert steadyhand.__file__.startswith({src!r}); "
        "print(sorted(m for m in ('json_repair', 'jsonschema', 'steadyhand.structured') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
