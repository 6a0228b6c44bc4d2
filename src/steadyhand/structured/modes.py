"""How a structured answer is asked for, chosen per target from its capability profile.

================== ==========================================================================
``json_schema``    the provider enforces the schema (OpenAI ``response_format: json_schema``,
                   the schema adapted to strict-mode rules by :func:`strict_schema`)
``tool``           a forced tool call whose input is the answer (Anthropic; or asked for)
``json_object_schema`` llama.cpp's ``json_object`` with a ``schema`` (a grammar enforces it)
``json_object``    the provider guarantees JSON, the schema is described in the prompt
``text``           plain text; the schema is described in the prompt and the answer cleaned up
================== ==========================================================================

Every request but ``text`` and ``tool`` carries ``response_format: json_schema``, which each wire
format realizes as faithfully as its target accepts; so after a fallback to a target with other
capabilities the answer says which mode it really got (:func:`mode_for` of the provider that
answered), and a weaker mode than planned is noted, never silent.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Literal

from ..errors import ConfigurationError
from ..providers.base import Capabilities
from ..types import Message, ResponseFormat, Tool
from ._schema import _UNSET, Shape

__all__ = ["MODES", "Mode", "instruction", "mode_for", "rank", "request_params", "strict_schema"]

Mode = Literal["json_schema", "tool", "json_object_schema", "json_object", "text"]
MODES: tuple[Mode, ...] = ("json_schema", "tool", "json_object_schema", "json_object", "text")
"""Strongest first: a mode later in this list than the one planned is a downgrade."""
_STRICT_DROP = frozenset(
    {"default", "format", "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum",
     "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "minProperties",
     "maxProperties", "patternProperties", "title", "examples", "x-aliases"}
)  # fmt: skip
"""Keywords OpenAI's strict mode refuses; they are still checked locally, after the answer."""


_FORMAT_APIS = frozenset({"chat", "responses"})
"""APIs whose wire formats realize ``response_format`` (the Responses API as ``text.format``)."""


def rank(mode: Mode) -> int:
    return MODES.index(mode)


def mode_for(caps: Capabilities, api: str) -> Mode:
    """The strongest mode a target with ``caps`` served over ``api`` offers."""
    formats = caps.response_formats
    if api == "messages":
        return "tool" if "json_schema" in formats else "text"
    if api not in _FORMAT_APIS:
        return "text"
    for mode in ("json_schema", "json_object_schema", "json_object"):
        if mode in formats:
            return mode
    return "text"


def check_mode(mode: Mode, caps: Capabilities, api: str) -> None:
    """Refuse a mode the target cannot give (asking explicitly never means a silent downgrade)."""
    if mode == "text":
        return
    if mode == "tool":
        if api == "messages" and "json_schema" in caps.response_formats:
            return
        if api in _FORMAT_APIS and caps.tools:
            return
    elif api in _FORMAT_APIS and mode in caps.response_formats:
        return
    raise ConfigurationError(
        f"mode {mode!r} is not offered by this target (its API is {api!r}, response formats "
        f"{sorted(caps.response_formats)}, tools {caps.tools}); use mode='auto' (best available: "
        f"{mode_for(caps, api)!r})"
    )


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schema under OpenAI's strict-mode rules, or ``None`` when it cannot follow them.

    Every object gets ``additionalProperties: false`` and lists every property as required (an
    optional one becomes nullable: the cleanup drops that null again so its default applies); the
    keywords strict mode refuses are removed; the root must be an object.
    """
    out = copy.deepcopy(dict(schema))
    root = out
    if "$ref" in root and isinstance(root.get("$defs"), dict):  # pydantic's recursive models
        return None
    if root.get("type") != "object":
        return None
    try:
        _tighten(out, 0)
    except ValueError:
        return None
    return out


def _tighten(node: Any, depth: int) -> None:
    if depth > 32:
        raise ValueError("too deep")
    if isinstance(node, list):
        for item in node:
            _tighten(item, depth + 1)
        return
    if not isinstance(node, dict):
        return
    for key in [k for k in node if k in _STRICT_DROP and not isinstance(node.get(k), dict)]:
        if key == "title" and "properties" in node and depth == 0:
            continue
        del node[key]
    if node.get("type") == "object" or "properties" in node:
        props = node.setdefault("properties", {})
        if node.get("additionalProperties") not in (None, False):
            raise ValueError("free-form maps are not allowed in strict mode")
        node["additionalProperties"] = False
        required = set(node.get("required", ()))
        for name, sub in props.items():
            if name not in required and isinstance(sub, dict):
                props[name] = _nullable(sub)
        node["required"] = list(props)
    for key in ("properties", "$defs", "definitions"):
        if isinstance(node.get(key), dict):
            for sub in node[key].values():
                _tighten(sub, depth + 1)
    for key in ("items", "anyOf", "allOf", "prefixItems"):
        if key in node:
            _tighten(node[key], depth + 1)


def _nullable(sub: dict[str, Any]) -> dict[str, Any]:
    kind = sub.get("type")
    if isinstance(kind, str) and kind != "null" and "enum" not in sub:
        return {**sub, "type": [kind, "null"]}
    if isinstance(kind, list):
        return sub if "null" in kind else {**sub, "type": [*kind, "null"]}
    options = sub.get("anyOf")
    if isinstance(options, list):
        if any(isinstance(o, dict) and o.get("type") == "null" for o in options):
            return sub
        return {**sub, "anyOf": [*options, {"type": "null"}]}
    return {"anyOf": [sub, {"type": "null"}]}


def instruction(shape: Shape) -> str:
    """What the prompt says in modes where the provider does not see the schema.

    A skeleton (``{"name": <string>, "age": <integer>}``) where the schema is simple enough, since
    small models asked with a raw JSON Schema tend to echo the schema back; the schema itself else.
    """
    if shape.json_schema is None:
        return "Reply with only a JSON value, no other text."
    skeleton = _skeleton(shape.json_schema, shape.json_schema, 0)
    if skeleton is not None and len(skeleton) <= 600:
        return f"Reply with only a JSON value of this shape, no other text:\n{skeleton}"
    schema = json.dumps(shape.json_schema, separators=(",", ":"))
    return f"Reply with only a JSON value that matches this JSON Schema, no other text:\n{schema}"


def _skeleton(node: Any, root: Mapping[str, Any], depth: int) -> str | None:
    from ._validator import resolve

    node = resolve(node, root)
    if not isinstance(node, Mapping) or depth > 3:
        return None
    if "enum" in node:
        return " | ".join(json.dumps(v) for v in node["enum"][:12])
    options = node.get("anyOf") or node.get("oneOf")
    if options:
        parts = [_skeleton(o, root, depth + 1) for o in options[:4]]
        return None if None in parts else " | ".join(p for p in parts if p)
    kind = node.get("type")
    if isinstance(kind, list):
        return " | ".join(f"<{k}>" for k in kind)
    if kind == "object" or "properties" in node:
        props = node.get("properties") or {}
        fields = []
        for name, sub in props.items():
            inner = _skeleton(sub, root, depth + 1)
            if inner is None:
                return None
            fields.append(f"{json.dumps(name)}: {inner}")
        return "{" + ", ".join(fields) + "}"
    if kind == "array":
        inner = _skeleton(node.get("items", {}), root, depth + 1) if node.get("items") else "..."
        return None if inner is None else f"[{inner}, ...]"
    return f"<{kind}>" if isinstance(kind, str) else "<any>"


def request_params(mode: Mode, shape: Shape, api: str) -> dict[str, Any]:
    """The request fields of ``mode`` (``response_format``, or ``tools`` + ``tool_choice``)."""
    if mode == "text" or (mode == "tool" and shape.json_schema is None):
        return {}
    if shape.json_schema is None:
        return {"response_format": ResponseFormat(type="json_object")}
    schema = dict(shape.json_schema or {})
    if mode == "tool" and api != "messages":
        tool = Tool(name=shape.name, description="Give your answer by calling this tool.", parameters=schema)
        return {"tools": [tool], "tool_choice": shape.name}
    if mode == "json_schema":
        if shape.strict is _UNSET:
            shape.strict = strict_schema(schema)
        strict = shape.strict
        if strict is not None:
            fmt = ResponseFormat(type="json_schema", json_schema=strict, name=shape.name, strict=True)
            return {"response_format": fmt}
    return {"response_format": ResponseFormat(type="json_schema", json_schema=schema, name=shape.name)}


def with_instruction(messages: list[Message], shape: Shape) -> list[Message]:
    """``messages`` with the schema described in a system message (first, or appended to the first)."""
    text = instruction(shape)
    if messages and messages[0].role == "system" and isinstance(messages[0].content, str):
        first = Message(role="system", content=f"{messages[0].content}\n\n{text}")
        return [first, *messages[1:]]
    return [Message(role="system", content=text), *messages]
