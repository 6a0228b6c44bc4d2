"""Front-door validation: a wrong argument is a :class:`~steadyhand.InvalidRequest` naming the field and
the fix, raised before anything is sent, never a raw ``pydantic.ValidationError`` from deep inside.

Scalars are checked by hand (this sits on every call's path; a pydantic round trip would cost more
than the rest of the client); messages, tools and response formats given as dicts go through their
pydantic models, whose errors are translated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import InvalidRequest
from .types import Message, ModelRequest, ResponseFormat, Tool

__all__ = ["MessagesInput", "build_request", "check_request", "to_messages"]

MessagesInput = str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any]]
"""A plain string (one user message), a message, or a list of ``Message`` objects or dicts."""

_FIXES = {
    "role": "use one of 'system', 'user', 'assistant', 'tool'",
    "content": "give a string or a list of {'type': 'text', 'text': ...} / {'type': 'image', 'url': ...}",
}
_TOOL_CHOICES = ("auto", "none", "required")
N_MAX = 128


def _pydantic(exc: ValidationError, where: str) -> InvalidRequest:
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    field = f"{where}." + ".".join(loc) if loc else where
    fix = next((_FIXES[p] for p in reversed(loc) if p in _FIXES), "see the field's type in steadyhand.types")
    got = error.get("input")
    shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
    return InvalidRequest(f"{field}: {error['msg'].lower()} (got {shown[:80]}); {fix}", param=field)


def _validated(model: type[BaseModel], value: Any, where: str) -> Any:
    if isinstance(value, model):
        return value
    if not isinstance(value, Mapping):
        raise InvalidRequest(
            f"{where} must be a {model.__name__} or a dict, not {type(value).__name__}", param=where
        )
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise _pydantic(exc, where) from None


def to_messages(messages: MessagesInput) -> list[Message]:
    if isinstance(messages, str):
        return [Message.model_construct(role="user", content=messages)]
    if isinstance(messages, Message | Mapping):
        return [_validated(Message, messages, "messages[0]")]
    if not isinstance(messages, Sequence):
        raise InvalidRequest(
            f"messages must be a string, a message or a list of messages, not {type(messages).__name__}",
            param="messages",
        )
    out = [_validated(Message, m, f"messages[{i}]") for i, m in enumerate(messages)]
    if not out:
        raise InvalidRequest(
            "messages is empty; pass at least one message (or a plain string)", param="messages"
        )
    return out


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest(f"{name} must be a number from {low:g} to {high:g}, not {value!r}", param=name)
    if not low <= value <= high:
        raise InvalidRequest(
            f"{name}={value!r} is out of range: use a number from {low:g} to {high:g}", param=name
        )
    return value


def _integer(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{name} must be a whole number, not {value!r}", param=name)
    if value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise InvalidRequest(f"{name}={value!r} is out of range: use a whole number {span}", param=name)
    return value


def _stop(value: Any) -> list[str]:
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, Sequence) or not all(isinstance(s, str) and s for s in stops):
        raise InvalidRequest(
            f"stop must be a non-empty string or a list of them, not {value!r}", param="stop"
        )
    return list(stops)


def _response_format(value: Any) -> tuple[ResponseFormat, list[str]]:
    """The format, with OpenAI's ``json_schema`` wrapper (``{"name", "schema", "strict"}``) unwrapped.

    That wrapper passed as if it were the schema would make the model answer the wrapper's shape.
    """
    fmt: ResponseFormat = _validated(ResponseFormat, value, "response_format")
    notes: list[str] = []
    schema = fmt.json_schema
    if isinstance(schema, dict) and isinstance(schema.get("schema"), dict) and _is_wrapper(schema):
        fmt = ResponseFormat(
            type="json_schema",
            json_schema=schema["schema"],
            name=str(schema.get("name") or fmt.name),
            strict=schema.get("strict", fmt.strict),
        )
        notes.append("response_format.json_schema: OpenAI's {name, schema, strict} wrapper unwrapped")
    if fmt.type == "json_schema" and not fmt.json_schema:
        raise InvalidRequest(
            "response_format type 'json_schema' needs json_schema (the JSON Schema of the answer), "
            "or use type 'json_object' for any JSON object",
            param="response_format.json_schema",
        )
    return fmt, notes


def _is_wrapper(schema: dict[str, Any]) -> bool:
    return set(schema) <= {"name", "schema", "strict", "description"} and "type" not in schema


def _tool_choice(value: Any, tools: list[Tool] | None) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(
            f"tool_choice must be 'auto', 'none', 'required' or a tool's name, not {value!r}",
            param="tool_choice",
        )
    if not tools:
        raise InvalidRequest(
            f"tool_choice={value!r} without tools: pass tools= or drop tool_choice", param="tool_choice"
        )
    if value not in _TOOL_CHOICES and value not in {t.name for t in tools}:
        raise InvalidRequest(
            f"tool_choice={value!r} names no tool; the tools are: {', '.join(t.name for t in tools)}",
            param="tool_choice",
        )
    return value


_UNSET = {
    name: field.default
    for name, field in ModelRequest.model_fields.items()
    if not field.is_required() and field.default_factory is None and field.default is None
}
"""The request fields whose default is None, for :func:`build_request`."""


def build_request(
    model: str,
    messages: MessagesInput,
    *,
    temperature: Any = None,
    top_p: Any = None,
    max_tokens: Any = None,
    stop: Any = None,
    seed: Any = None,
    n: Any = None,
    tools: Any = None,
    tool_choice: Any = None,
    response_format: Any = None,
    extra: Any = None,
) -> tuple[ModelRequest, list[str]]:
    """A checked :class:`ModelRequest` and notes on what was adjusted (for the call's span)."""
    fields: dict[str, Any] = {"model": model, "messages": to_messages(messages)}
    notes: list[str] = []
    if temperature is not None:
        fields["temperature"] = _number("temperature", temperature, 0.0, 2.0)
    if top_p is not None:
        fields["top_p"] = _number("top_p", top_p, 0.0, 1.0)
    if max_tokens is not None:
        fields["max_tokens"] = _integer("max_tokens", max_tokens, 1)
    if stop is not None:
        fields["stop"] = _stop(stop)
    if seed is not None:
        fields["seed"] = _integer("seed", seed, -(2**63), 2**63 - 1)
    if n is not None:
        fields["n"] = _integer("n", n, 1, N_MAX)
    if tools is not None:
        if isinstance(tools, str | Mapping) or not isinstance(tools, Sequence):
            raise InvalidRequest("tools must be a list of Tool objects or dicts", param="tools")
        fields["tools"] = [_validated(Tool, t, f"tools[{i}]") for i, t in enumerate(tools)]
    if tool_choice is not None:
        fields["tool_choice"] = _tool_choice(tool_choice, fields.get("tools"))
    if response_format is not None:
        fields["response_format"], notes = _response_format(response_format)
    if extra:
        if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
            raise InvalidRequest("extra must be a dict of body fields with string keys", param="extra")
        fields["extra"] = dict(extra)
    else:
        fields["extra"] = {}
    # Every field given: model_construct then copies instead of computing each default (its slow part).
    return ModelRequest.model_construct(**{**_UNSET, **fields}), notes


def check_request(request: ModelRequest) -> tuple[ModelRequest, list[str]]:
    """A request built elsewhere (a server decoding a body), checked by the same rules."""
    if not isinstance(request, ModelRequest):
        raise InvalidRequest(f"expected a ModelRequest, not {type(request).__name__}", param="request")
    return build_request(
        request.model,
        request.messages,
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=request.max_tokens,
        stop=request.stop,
        seed=request.seed,
        n=request.n,
        tools=request.tools,
        tool_choice=request.tool_choice,
        response_format=request.response_format,
        extra=request.extra,
    )
