"""JSON Schema validators for the OpenAI OpenAPI contract (/work/shared/contracts/openai-openapi.yaml).

``validator("CreateChatCompletionRequest").iter_errors(doc)``: every schema in the spec, with OpenAPI
3.0's ``nullable: true`` rewritten to JSON Schema and ``$ref``s pointed at ``$defs``; parsed once.
"""

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
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schemas = yaml.load(SPEC.read_text(), Loader=loader)["components"]["schemas"]
    text = json.dumps(allow_null(schemas), default=str).replace("#/components/schemas/", "#/$defs/")
    defs: dict[str, Any] = json.loads(text)
    return defs


def _one_of(
    validator: jsonschema.protocols.Validator, one_of: Any, instance: Any, schema: dict[str, Any]
) -> Any:
    """``oneOf`` as OpenAPI reads it: with a ``discriminator`` the branch is picked by the tag, so two
    branches matching is not an error (the Responses ``InputItem`` lists a user message both as
    ``EasyInputMessage`` and as ``Item``/``InputMessage``, both ``type: message``)."""
    if "discriminator" in schema:
        return _ANY_OF(validator, one_of, instance, schema)
    return _ONE_OF(validator, one_of, instance, schema)


_BASE = jsonschema.Draft202012Validator
_ONE_OF, _ANY_OF = _BASE.VALIDATORS["oneOf"], _BASE.VALIDATORS["anyOf"]
_OpenAPIValidator = jsonschema.validators.extend(_BASE, {"oneOf": _one_of})


@cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    defs = _defs()
    checker: jsonschema.Draft202012Validator = _OpenAPIValidator({"$defs": defs, **defs[name]})
    return checker


def schema_errors(name: str, doc: Any) -> list[str]:
    """Every way ``doc`` breaks schema ``name``, as ``message at path`` lines (empty: valid)."""
    errors = sorted(validator(name).iter_errors(doc), key=lambda e: list(e.path))
    return [f"{e.message[:300]} at {list(e.path)}" for e in errors]


def validate(name: str, doc: Any) -> None:
    """Fail with the first error when ``doc`` does not validate against spec schema ``name``."""
    errors = schema_errors(name, doc)
    assert not errors, f"{name}: {errors[0]}"
