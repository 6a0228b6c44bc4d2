"""A small JSON Schema validator for the schemas structured output uses, with no dependency.

``jsonschema`` is a development dependency only, and pydantic validates its own models, so a JSON
Schema given as a dict is checked here. The subset: ``type`` (and lists of types), ``enum``,
``const``, ``properties``/``required``/``additionalProperties``, ``items``/``prefixItems``,
``minItems``/``maxItems``/``uniqueItems``, ``minLength``/``maxLength``/``pattern``,
``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``/``multipleOf``,
``anyOf``/``oneOf``/``allOf``/``not`` and local ``$ref`` (``#/$defs/...``). Other keywords
(``format``, ``if``/``then``, ``dependentSchemas``...) are ignored, as the specification allows for
annotations; a test compares this validator with ``jsonschema`` on the same cases.

``partial=True`` skips ``required`` and ``minItems``: the check used for streamed partial objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..providers._inbound_check import kind_of as type_of  # one JSON type naming for both

__all__ = ["resolve", "type_of", "validate"]

_MAX_ERRORS = 20
_MAX_DEPTH = 64


def _is_type(value: Any, kind: str) -> bool:
    actual = type_of(value)
    if kind == "number":
        return actual in ("integer", "number")
    if kind == "integer":
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    return actual == kind


def resolve(node: Any, root: Mapping[str, Any]) -> Any:
    """Follow local ``$ref`` pointers (bounded) to the schema node they name."""
    for _ in range(_MAX_DEPTH):
        if not isinstance(node, Mapping) or "$ref" not in node:
            return node
        ref = str(node["$ref"])
        target: Any = root
        for part in ref.removeprefix("#").strip("/").split("/") if ref != "#" else []:
            key = part.replace("~1", "/").replace("~0", "~")
            target = target.get(key) if isinstance(target, Mapping) else None
        node = target if target is not None else {}
    return {}


def validate(value: Any, schema: Any, *, partial: bool = False) -> list[str]:
    """Errors of ``value`` against ``schema`` as ``path: message`` lines (empty when valid)."""
    errors: list[str] = []
    _check(value, schema, schema if isinstance(schema, Mapping) else {}, "", errors, partial, 0)
    return errors[:_MAX_ERRORS]


def _where(path: str) -> str:
    return path or "(root)"


def _check(
    value: Any, node: Any, root: Mapping[str, Any], path: str, errors: list[str], partial: bool, depth: int
) -> None:
    if len(errors) >= _MAX_ERRORS or depth > _MAX_DEPTH:
        return
    if node is True or node is None:
        return
    if node is False:
        errors.append(f"{_where(path)}: no value is allowed here")
        return
    node = resolve(node, root)
    if not isinstance(node, Mapping):
        return
    kinds = node.get("type")
    if kinds is not None:
        allowed = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is_type(value, k) for k in allowed):
            want = " or ".join(str(k) for k in allowed)
            errors.append(f"{_where(path)}: expected {want}, got {type_of(value)} {_short(value)}")
            return
    if "enum" in node and not any(_same(value, e) for e in node["enum"]):
        choices = ", ".join(json.dumps(e) for e in node["enum"][:10])
        errors.append(f"{_where(path)}: {_short(value)} is not one of {choices}")
    if "const" in node and not _same(value, node["const"]):
        errors.append(f"{_where(path)}: must be {json.dumps(node['const'])}")
    for key in ("allOf",):
        for sub in node.get(key, ()):
            _check(value, sub, root, path, errors, partial, depth + 1)
    if "anyOf" in node or "oneOf" in node:
        options = node.get("anyOf") or node.get("oneOf") or []
        passing = sum(not validate_in(value, o, root, partial) for o in options)
        if passing == 0:
            errors.append(f"{_where(path)}: {_short(value)} matches none of the allowed shapes")
        elif "oneOf" in node and passing > 1 and not partial:
            errors.append(f"{_where(path)}: {_short(value)} matches more than one of the allowed shapes")
    if "not" in node and not validate_in(value, node["not"], root, partial):
        errors.append(f"{_where(path)}: {_short(value)} is not allowed here")
    if isinstance(value, dict):
        _object(value, node, root, path, errors, partial, depth)
    elif isinstance(value, list):
        _array(value, node, root, path, errors, partial, depth)
    elif isinstance(value, str):
        _string(value, node, path, errors)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _number(value, node, path, errors)


def validate_in(value: Any, node: Any, root: Mapping[str, Any], partial: bool) -> list[str]:
    errors: list[str] = []
    _check(value, node, root, "", errors, partial, 0)
    return errors


def _object(
    value: dict[str, Any],
    node: Mapping[str, Any],
    root: Mapping[str, Any],
    path: str,
    errors: list[str],
    partial: bool,
    depth: int,
) -> None:
    props = node.get("properties") or {}
    if not partial:
        for name in node.get("required", ()):
            if name not in value:
                errors.append(f"{_join(path, name)}: field required")
    extra = node.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            _check(item, props[key], root, _join(path, key), errors, partial, depth + 1)
        elif extra is False:
            errors.append(f"{_join(path, key)}: unexpected field")
        elif isinstance(extra, Mapping):
            _check(item, extra, root, _join(path, key), errors, partial, depth + 1)


def _array(
    value: list[Any],
    node: Mapping[str, Any],
    root: Mapping[str, Any],
    path: str,
    errors: list[str],
    partial: bool,
    depth: int,
) -> None:
    prefix = node.get("prefixItems") or []
    items = node.get("items")
    for i, item in enumerate(value):
        sub = prefix[i] if i < len(prefix) else items
        if sub is not None:
            _check(item, sub, root, f"{path}[{i}]", errors, partial, depth + 1)
    if not partial and len(value) < node.get("minItems", 0):
        errors.append(f"{_where(path)}: needs at least {node['minItems']} items, has {len(value)}")
    if "maxItems" in node and len(value) > node["maxItems"]:
        errors.append(f"{_where(path)}: allows at most {node['maxItems']} items, has {len(value)}")
    if node.get("uniqueItems"):
        seen = {json.dumps(v, sort_keys=True) for v in value}
        if len(seen) < len(value):
            errors.append(f"{_where(path)}: items must be unique")


def _string(value: str, node: Mapping[str, Any], path: str, errors: list[str]) -> None:
    if len(value) < node.get("minLength", 0):
        errors.append(f"{_where(path)}: shorter than {node['minLength']} characters")
    if "maxLength" in node and len(value) > node["maxLength"]:
        errors.append(f"{_where(path)}: longer than {node['maxLength']} characters")
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        try:
            if re.search(pattern, value) is None:
                errors.append(f"{_where(path)}: {_short(value)} does not match {pattern!r}")
        except re.error:
            pass


def _number(value: float, node: Mapping[str, Any], path: str, errors: list[str]) -> None:
    if "minimum" in node and value < node["minimum"]:
        errors.append(f"{_where(path)}: {value} is less than the minimum {node['minimum']}")
    if "maximum" in node and value > node["maximum"]:
        errors.append(f"{_where(path)}: {value} is more than the maximum {node['maximum']}")
    low, high = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    if isinstance(low, int | float) and not isinstance(low, bool) and value <= low:
        errors.append(f"{_where(path)}: {value} must be more than {low}")
    if isinstance(high, int | float) and not isinstance(high, bool) and value >= high:
        errors.append(f"{_where(path)}: {value} must be less than {high}")
    step = node.get("multipleOf")
    if isinstance(step, int | float) and step > 0 and not float(value / step).is_integer():
        errors.append(f"{_where(path)}: {value} is not a multiple of {step}")


def _same(a: Any, b: Any) -> bool:
    return (
        type_of(a) == type_of(b)
        and a == b
        or (type_of(a) in ("integer", "number") and type_of(b) in ("integer", "number") and a == b)
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
