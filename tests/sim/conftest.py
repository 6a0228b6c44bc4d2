"""Fixtures for the simulator tests: a running SimServer and OpenAI schema validators."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from steadyhand.sim import SimServer

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / ".." / "shared" / "contracts" / "openai-openapi.yaml"
Validate = Callable[[str, Any], None]


def allow_null(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` means null is allowed; JSON Schema ignores it, so rewrite it."""
    if isinstance(node, list):
        return [allow_null(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: allow_null(v) for k, v in node.items()}
    if node.pop("nullable", False):
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        elif "type" not in node:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _defs() -> dict[str, Any]:
    """Every spec schema, nullable rewritten, refs pointed at ``$defs``; parsed once per session."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schemas = yaml.load(SPEC.read_text(), Loader=loader)["components"]["schemas"]
    text = json.dumps(allow_null(schemas), default=str).replace("#/components/schemas/", "#/$defs/")
    defs: dict[str, Any] = json.loads(text)
    return defs


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    defs = _defs()
    return jsonschema.Draft202012Validator({"$defs": defs, **defs[name]})


@pytest.fixture(scope="session")
def validate() -> Validate:
    """``validate(schema_name, doc)`` fails the test with the first schema error."""

    def check(name: str, doc: Any) -> None:
        errors = sorted(_validator(name).iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, f"{name}: {errors[0].message[:300]} at {list(errors[0].path)}"

    return check


@pytest.fixture(scope="session")
def sim() -> Iterator[SimServer]:
    """One default simulator (no scenario) shared by the tests that only use model-name behaviour."""
    with SimServer(seed=0) as server:
        yield server
