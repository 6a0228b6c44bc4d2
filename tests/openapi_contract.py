"""OpenAI's published OpenAPI schemas as JSON Schema validators, shared by every contract test."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / ".." / "shared" / "contracts" / "openai-openapi.yaml"


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


def validate(name: str, doc: Any) -> None:
    """Fail with the first error when ``doc`` does not validate against spec schema ``name``."""
    errors = sorted(_validator(name).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, f"{name}: {errors[0].message[:300]} at {list(errors[0].path)}"
