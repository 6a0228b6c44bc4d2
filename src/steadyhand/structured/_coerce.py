"""Schema-aware coercion: the near misses a schema makes readable, each one logged.

Runs only on a value that failed validation, walking it beside its JSON Schema. Each rule changes a
value only where the schema says what it must be and exactly one reading fits: ``"42"`` for an
integer, ``"true"`` for a boolean, one object where a list is expected, ``"In Progress"`` for the enum
value ``in_progress``, an alias listed under ``x-aliases``, a JSON document inside a string, a
``null`` for an optional field that does not allow null (dropped, so its default applies) and a
missing field that allows null (set to null).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ._parse import Repair
from ._validator import resolve, type_of, validate_in

__all__ = ["coerce"]

_INT = re.compile(r"\s*[-+]?\d+\s*")
_FLOAT = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")
_SEP = re.compile(r"[\s\-]+")
_MAX_DEPTH = 64


def coerce(value: Any, schema: Mapping[str, Any]) -> tuple[Any, list[Repair]]:
    """The coerced value and the steps that fired."""
    steps: list[Repair] = []
    return _walk(value, schema, schema, "", steps, 0), steps


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _note(steps: list[Repair], step: str, path: str, old: Any, new: Any) -> None:
    where = path or "(root)"
    steps.append(Repair(step, f"{where}: {_short(old)}", f"{where}: {_short(new)}"))


def _types(node: Mapping[str, Any]) -> list[str]:
    kind = node.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    return [str(kind)] if isinstance(kind, str) else []


def _allows_null(node: Any, root: Mapping[str, Any]) -> bool:
    node = resolve(node, root)
    if not isinstance(node, Mapping):
        return True
    if "null" in _types(node) or None in node.get("enum", [0]) or node.get("const", 0) is None:
        return True
    options = node.get("anyOf") or node.get("oneOf") or []
    return any(_allows_null(o, root) for o in options)


def _walk(value: Any, node: Any, root: Mapping[str, Any], path: str, steps: list[Repair], depth: int) -> Any:
    if depth > _MAX_DEPTH or not isinstance(node, Mapping):
        return value
    aliases = node.get("x-aliases")
    node = resolve(node, root)
    if not isinstance(node, Mapping):
        return value
    aliases = aliases or node.get("x-aliases")
    options = node.get("anyOf") or node.get("oneOf")
    if options:
        if not validate_in(value, node, root, False):
            return value
        real = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
        if value is None or len(real) != 1:
            return value
        return _walk(value, real[0], root, path, steps, depth + 1)
    kinds = _types(node)
    if value is None and ("null" in kinds or not kinds):
        return value
    if "enum" in node:
        return _enum(value, node["enum"], aliases, path, steps)
    kind = next((k for k in kinds if k != "null"), None)
    if kind in ("integer", "number"):
        return _number(value, kind, path, steps)
    if kind == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        new = value.strip().lower() == "true"
        _note(steps, "bool_in_string", path, value, new)
        return new
    if kind == "string" and type_of(value) in ("integer", "number"):
        _note(steps, "number_to_string", path, value, json.dumps(value))
        return json.dumps(value)
    if kind == "array":
        return _array(value, node, root, path, steps, depth)
    if kind == "object" or (kind is None and "properties" in node):
        return _object(value, node, root, path, steps, depth)
    return value


def _number(value: Any, kind: str, path: str, steps: list[Repair]) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if _INT.fullmatch(text):
            new: Any = int(text)
        elif _FLOAT.fullmatch(text):
            new = float(text)
            if kind == "integer":
                if not new.is_integer():
                    return value
                new = int(new)
        else:
            return value
        _note(steps, "number_in_string", path, value, new)
        return new
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        _note(steps, "float_to_int", path, value, int(value))
        return int(value)
    return value


def _norm(text: str) -> str:
    return _SEP.sub("_", text.strip()).casefold()


def _enum(value: Any, choices: list[Any], aliases: Any, path: str, steps: list[Repair]) -> Any:
    if any(type_of(value) == type_of(c) and value == c for c in choices) or not isinstance(value, str):
        return value
    key = _norm(value)
    hits = [c for c in choices if isinstance(c, str) and _norm(c) == key]
    if len(hits) == 1:
        _note(steps, "enum_case", path, value, hits[0])
        return hits[0]
    if isinstance(aliases, Mapping):
        table = {_norm(str(a)): v for a, v in aliases.items()}
        if key in table and table[key] in choices:
            _note(steps, "enum_alias", path, value, table[key])
            return table[key]
    return value


def _array(
    value: Any, node: Mapping[str, Any], root: Mapping[str, Any], path: str, steps: list[Repair], depth: int
) -> Any:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            _note(steps, "json_in_string", path, value, parsed)
            value = parsed
    if not isinstance(value, list):
        if value is None:
            return value
        _note(steps, "single_to_list", path, value, [value])
        value = [value]
    items = node.get("items")
    if isinstance(items, Mapping):
        return [_walk(v, items, root, f"{path}[{i}]", steps, depth + 1) for i, v in enumerate(value)]
    return value


def _object(
    value: Any, node: Mapping[str, Any], root: Mapping[str, Any], path: str, steps: list[Repair], depth: int
) -> Any:
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            _note(steps, "json_in_string", path, value, parsed)
            value = parsed
    if not isinstance(value, dict):
        return value
    props: Mapping[str, Any] = node.get("properties") or {}
    required = set(node.get("required") or ())
    closed = node.get("additionalProperties") is False
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in props:
            if closed:
                _note(steps, "extra_field_dropped", where, item, None)
                continue
            out[key] = item
            continue
        sub = props[key]
        if item is None and key not in required and not _allows_null(sub, root):
            _note(steps, "null_dropped", where, item, "(default)")
            continue
        out[key] = _walk(item, sub, root, where, steps, depth + 1)
    for key in props:
        if key in required and key not in out and _allows_null(props[key], root):
            _note(steps, "missing_nullable", f"{path}.{key}" if path else key, "(missing)", None)
            out[key] = None
    return out
