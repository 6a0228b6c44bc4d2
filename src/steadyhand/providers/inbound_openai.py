"""Inbound OpenAI codec, request side: a chat-completions or legacy completions body to a ``ModelRequest``.

Decoding validates the way OpenAI does and words every refusal as OpenAI does (``param`` like
``messages[0].content``, ``code`` like ``integer_below_min_value``); encode the resulting
:class:`~steadyhand.errors.InvalidRequest` with :func:`inbound_openai_encode.error_body`. Body fields
steadyhand has no slot for (``user``, ``logit_bias``, ``parallel_tool_calls``...) go to
``ModelRequest.extra`` untouched; what is valid for OpenAI but cannot be carried (audio or file
parts, ``function`` messages, per-tool ``strict``) is refused, never silently dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ..errors import InvalidRequest
from ..types import ImagePart, Message, ModelRequest, Part, ResponseFormat, TextPart, Tool, ToolCall
from ._inbound_check import MAX_BODY_BYTES, InboundRequest, Kind, Path, Style, kind_of, parse_body

__all__ = ["OPENAI_STYLE", "InboundRequest", "OpenAIStyle", "decode_chat", "decode_completions"]

_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_CHAT_KEYS = frozenset(
    {"model", "messages", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed"}
    | {"n", "tools", "tool_choice", "response_format", "stream", "stream_options"}
)
_COMPLETION_KEYS = frozenset(
    {"model", "prompt", "temperature", "top_p", "max_tokens", "stop", "seed", "n", "stream"}
    | {"stream_options"}
)
# Assistant-message keys the official SDK echoes back from a response: accepted when empty.
_ECHOED = frozenset({"refusal", "annotations", "audio", "function_call"})
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a decimal",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


def _quoted(values: Sequence[str]) -> str:
    words = [f"'{v}'" for v in values]
    return ", ".join(words[:-1]) + f", and {words[-1]}" if len(words) > 2 else " and ".join(words)


class OpenAIStyle(Style):
    """OpenAI's wording: ``Invalid type for 'messages[0].content': expected a string, but got ...``."""

    def name(self, path: Path) -> str:
        out = ""
        for part in path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    def bad_json(self) -> InvalidRequest:
        return self.error(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
            "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was "
            "not valid JSON. If you have trouble figuring out how to fix this, please contact us through "
            "our help center at help.openai.com.)",
            None,
            None,
        )

    def too_large(self, size: int, limit: int) -> InvalidRequest:
        return self.error(
            f"Request body too large: {size} bytes; the limit is {limit} bytes. Send a smaller request.",
            None,
            "request_too_large",
            413,
        )

    def missing(self, path: Path) -> InvalidRequest:
        return self.error(
            f"Missing required parameter: '{self.name(path)}'.", path, "missing_required_parameter"
        )

    def wrong_type(self, path: Path, expected: Kind | str, value: Any) -> InvalidRequest:
        want = _TYPE_WORDS.get(expected, expected)
        got = _TYPE_WORDS.get(kind_of(value), kind_of(value))
        return self.error(
            f"Invalid type for '{self.name(path)}': expected {want}, but got {got} instead.",
            path,
            "invalid_type",
        )

    def out_of_range(
        self, path: Path, value: float, *, minimum: float | None, maximum: float | None, integer: bool
    ) -> InvalidRequest:
        word = "integer" if integer else "decimal"
        low = minimum is not None and value < minimum
        bound = f">= {_num(minimum)}" if low else f"<= {_num(maximum)}"
        side = "below_min" if low else "above_max"
        return self.error(
            f"Invalid '{self.name(path)}': {word} {side.replace('_', ' ')}imum value. "
            f"Expected a value {bound}, but got {_num(value)} instead.",
            path,
            f"{word}_{side}_value",
        )

    def not_finite(self, path: Path, value: float) -> InvalidRequest:
        return self.error(
            f"Invalid '{self.name(path)}': expected a finite number, but got {_num(value)} instead "
            "(NaN and Infinity are not JSON).",
            path or None,
            "invalid_value",
        )

    def bad_value(self, path: Path, value: Any, allowed: Sequence[str]) -> InvalidRequest:
        return self.error(
            f"Invalid value: '{value}'. Supported values are: {_quoted(allowed)}.", path, "invalid_value"
        )

    def length(self, path: Path, size: int, *, minimum: int, maximum: int | None) -> InvalidRequest:
        if size < minimum:
            text = (
                "empty array. Expected an array with minimum length 1, but got an empty array instead."
                if size == 0
                else f"array too short. Expected an array with minimum length {minimum}, but got {size}."
            )
            return self.error(f"Invalid '{self.name(path)}': {text}", path, "empty_array")
        return self.error(
            f"Invalid '{self.name(path)}': array too long. Expected an array with maximum length "
            f"{maximum}, but got an array with length {size} instead.",
            path,
            "array_above_max_length",
        )

    def bad_text(self, path: Path) -> InvalidRequest:
        return self.error(
            f"Invalid '{self.name(path) or 'body'}': the string contains a lone UTF-16 surrogate "
            "(like \\ud800), which is not valid Unicode; send well-formed UTF-8.",
            path or None,
            "invalid_value",
        )

    def unsupported(self, path: Path, what: str) -> InvalidRequest:
        return self.error(
            f"Unsupported value for '{self.name(path)}': {what} is not supported by this server "
            "(steadyhand); remove it.",
            path,
            "unsupported_value",
        )


def _num(value: float | None) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


OPENAI_STYLE = OpenAIStyle()
_S = OPENAI_STYLE


def _text_parts(raw: list[Any], path: Path, *, images: bool) -> list[Part]:
    parts: list[Part] = []
    for i, item in enumerate(raw):
        where = (*path, i)
        part = _S.object(item, where)
        kind = _S.choice(_S.required(part, "type", where), (*where, "type"), _PART_TYPES)
        if kind == "text":
            _only(part, ("type", "text"), where)
            parts.append(TextPart(text=_S.string(_S.required(part, "text", where), (*where, "text"))))
        elif kind == "image_url" and images:
            _only(part, ("type", "image_url"), where)
            image = _S.object(_S.required(part, "image_url", where), (*where, "image_url"))
            _only(image, ("url", "detail"), (*where, "image_url"))
            url = _S.string(_S.required(image, "url", (*where, "image_url")), (*where, "image_url", "url"))
            detail = image.get("detail")
            if detail is not None:
                detail = _S.choice(detail, (*where, "image_url", "detail"), ("auto", "low", "high"))
            parts.append(ImagePart(url=url, detail=detail))
        else:
            raise _S.unsupported((*where, "type"), f"a '{kind}' content part here")
    return parts


def _only(obj: dict[str, Any], keys: Sequence[str], path: Path) -> None:
    for key in obj:
        if key not in keys:
            raise _S.unsupported((*path, key), f"'{key}'")


def _content(msg: dict[str, Any], role: str, path: Path) -> str | list[Part] | None:
    where = (*path, "content")
    if "content" not in msg:
        if role == "assistant":
            return None
        raise _S.missing(where)
    raw = msg["content"]
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        return _text_parts(_S.array(raw, where, minimum=1), where, images=role == "user")
    if raw is None and role == "assistant":
        return None
    raise _S.wrong_type(where, "one of a string or array of objects", raw)


def _tool_calls(raw: Any, path: Path) -> list[ToolCall]:
    calls = []
    for i, item in enumerate(_S.array(raw, path)):
        where = (*path, i)
        call = _S.object(item, where)
        _only(call, ("id", "type", "function"), where)
        _S.choice(_S.required(call, "type", where), (*where, "type"), ("function",))
        fn = _S.object(_S.required(call, "function", where), (*where, "function"))
        _only(fn, ("name", "arguments"), (*where, "function"))
        calls.append(
            ToolCall(
                id=_S.string(_S.required(call, "id", where), (*where, "id")),
                name=_S.string(_S.required(fn, "name", (*where, "function")), (*where, "function", "name")),
                arguments=_S.string(
                    _S.required(fn, "arguments", (*where, "function")), (*where, "function", "arguments")
                ),
            )
        )
    return calls


def _message(raw: Any, index: int) -> Message:
    path: Path = ("messages", index)
    msg = _S.object(raw, path)
    role = _S.choice(_S.required(msg, "role", path), (*path, "role"), _ROLES)
    if role == "function":
        raise _S.unsupported((*path, "role"), "the deprecated 'function' role (use 'tool')")
    for key, value in msg.items():
        if key in _ECHOED and role == "assistant" and value in (None, [], ""):
            continue
        if key not in ("role", "content", "name", "tool_calls", "tool_call_id"):
            raise _S.unsupported((*path, key), f"'{key}'")
    content = _content(msg, role, path)
    name = msg.get("name")
    calls = _tool_calls(msg["tool_calls"], (*path, "tool_calls")) if msg.get("tool_calls") else None
    if calls is not None and role != "assistant":
        raise _S.unsupported((*path, "tool_calls"), f"'tool_calls' on a '{role}' message")
    call_id = None
    if role == "tool":
        call_id = _S.string(_S.required(msg, "tool_call_id", path), (*path, "tool_call_id"))
    elif msg.get("tool_call_id") is not None:
        raise _S.unsupported((*path, "tool_call_id"), f"'tool_call_id' on a '{role}' message")
    return Message(
        role="system" if role == "developer" else role,
        content=content,
        tool_calls=calls,
        tool_call_id=call_id,
        name=_S.string(name, (*path, "name")) if name is not None else None,
    )


def _tool(raw: Any, index: int) -> Tool:
    path: Path = ("tools", index)
    tool = _S.object(raw, path)
    _only(tool, ("type", "function"), path)
    _S.choice(_S.required(tool, "type", path), (*path, "type"), ("function",))
    fn = _S.object(_S.required(tool, "function", path), (*path, "function"))
    where = (*path, "function")
    _only(fn, ("name", "description", "parameters", "strict"), where)
    if fn.get("strict"):
        raise _S.unsupported((*where, "strict"), "per-tool 'strict'")
    name = _name(_S.required(fn, "name", where), (*where, "name"))
    description = fn.get("description")
    out = Tool(
        name=name,
        description=_S.string(description, (*where, "description")) if description is not None else None,
    )
    if fn.get("parameters") is not None:
        out.parameters = _S.object(fn["parameters"], (*where, "parameters"))
    return out


def _name(value: Any, path: Path) -> str:
    name = _S.string(value, path)
    if not _NAME.fullmatch(name):
        raise _S.error(
            f"Invalid '{_S.name(path)}': string does not match pattern. Expected a string that matches "
            "the pattern '^[a-zA-Z0-9_-]{1,64}$'.",
            path,
            "invalid_value",
        )
    return name


def _tool_choice(raw: Any, has_tools: bool) -> str | None:
    path: Path = ("tool_choice",)
    if raw is not None and not has_tools:
        raise _S.error(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            path,
            None,
        )
    if raw is None or isinstance(raw, str):
        return None if raw is None else _S.choice(raw, path, ("none", "auto", "required"))
    choice = _S.object(raw, path)
    kind = _S.string(_S.required(choice, "type", path), (*path, "type"))
    if kind != "function":
        raise _S.unsupported((*path, "type"), f"tool_choice type '{kind}'")
    fn = _S.object(_S.required(choice, "function", path), (*path, "function"))
    return _S.string(_S.required(fn, "name", (*path, "function")), (*path, "function", "name"))


def _response_format(raw: Any) -> ResponseFormat | None:
    path: Path = ("response_format",)
    if raw is None:
        return None
    fmt = _S.object(raw, path)
    kind = _S.choice(_S.required(fmt, "type", path), (*path, "type"), ("text", "json_object", "json_schema"))
    if kind != "json_schema":
        _only(fmt, ("type",), path)
        return ResponseFormat(type=kind)
    _only(fmt, ("type", "json_schema"), path)
    where = (*path, "json_schema")
    spec = _S.object(_S.required(fmt, "json_schema", path), where)
    _only(spec, ("name", "schema", "strict"), where)
    schema = spec.get("schema")
    strict = spec.get("strict")
    return ResponseFormat(
        type="json_schema",
        name=_name(_S.required(spec, "name", where), (*where, "name")),
        json_schema=_S.object(schema, (*where, "schema")) if schema is not None else None,
        strict=_S.boolean(strict, (*where, "strict")) if strict is not None else None,
    )


def _stop(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return [raw]
    items = _S.array(raw, ("stop",), maximum=4)
    return [_S.string(s, ("stop", i)) for i, s in enumerate(items)]


def _stream(obj: dict[str, Any]) -> tuple[bool, bool]:
    stream = obj.get("stream")
    stream = _S.boolean(stream, ("stream",)) if stream is not None else False
    options = obj.get("stream_options")
    if options is None:
        return stream, False
    if not stream:
        raise _S.error(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            ("stream_options",),
            None,
        )
    opts = _S.object(options, ("stream_options",))
    _only(opts, ("include_usage", "include_obfuscation"), ("stream_options",))
    for key in opts:
        if opts[key] is not None:
            _S.boolean(opts[key], ("stream_options", key))
    return stream, bool(opts.get("include_usage"))


def _sampling(obj: dict[str, Any]) -> dict[str, Any]:
    """The sampling fields both OpenAI formats share, validated to OpenAI's ranges."""
    out: dict[str, Any] = {}
    if obj.get("temperature") is not None:
        out["temperature"] = _S.number(obj["temperature"], ("temperature",), minimum=0, maximum=2)
    if obj.get("top_p") is not None:
        out["top_p"] = _S.number(obj["top_p"], ("top_p",), minimum=0, maximum=1)
    if obj.get("n") is not None:
        out["n"] = _S.integer(obj["n"], ("n",), minimum=1, maximum=128)
    if obj.get("seed") is not None:
        out["seed"] = _S.integer(obj["seed"], ("seed",))
    for key in ("presence_penalty", "frequency_penalty"):
        if obj.get(key) is not None:
            _S.number(obj[key], (key,), minimum=-2, maximum=2)
    out["stop"] = _stop(obj.get("stop"))
    return out


def _extra(obj: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in known}


def decode_chat(body: Any, *, max_bytes: int = MAX_BODY_BYTES) -> InboundRequest:
    """A ``POST /v1/chat/completions`` body (bytes, str or parsed JSON); raises ``InvalidRequest``."""
    obj = parse_body(body, _S, max_bytes=max_bytes)
    model = _S.string(_S.required(obj, "model"), ("model",))
    raw_messages = _S.array(_S.required(obj, "messages"), ("messages",), minimum=1)
    messages = [_message(m, i) for i, m in enumerate(raw_messages)]
    limit = None
    for key in ("max_tokens", "max_completion_tokens"):
        if obj.get(key) is not None:
            if limit is not None:
                raise _S.error(
                    "Set only one of 'max_tokens' and 'max_completion_tokens'.", (key,), "invalid_value"
                )
            limit = _S.integer(obj[key], (key,), minimum=1)
    tools = obj.get("tools")
    stream, include_usage = _stream(obj)
    request = ModelRequest(
        model=model,
        messages=messages,
        max_tokens=limit,
        tools=[_tool(t, i) for i, t in enumerate(_S.array(tools, ("tools",), maximum=128))]
        if tools is not None
        else None,
        tool_choice=_tool_choice(obj.get("tool_choice"), tools is not None),
        response_format=_response_format(obj.get("response_format")),
        extra=_extra(obj, _CHAT_KEYS),
        **_sampling(obj),
    )
    return InboundRequest(request, stream=stream, include_usage=include_usage)


def decode_completions(body: Any, *, max_bytes: int = MAX_BODY_BYTES) -> InboundRequest:
    """A legacy ``POST /v1/completions`` body: the prompt becomes one user message, verbatim.

    A batch (several prompts) or a token-array prompt cannot be one ``ModelRequest`` and is refused.
    """
    obj = parse_body(body, _S, max_bytes=max_bytes)
    model = _S.string(_S.required(obj, "model"), ("model",))
    raw = _S.required(obj, "prompt")
    if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], str):
        raw = raw[0]
    if isinstance(raw, list):
        raise _S.unsupported(("prompt",), "a batch of prompts or a token-array prompt")
    prompt = _S.string(raw, ("prompt",))
    limit = obj.get("max_tokens")
    stream, include_usage = _stream(obj)
    request = ModelRequest(
        model=model,
        messages=[Message(role="user", content=prompt)],
        max_tokens=_S.integer(limit, ("max_tokens",), minimum=0) if limit is not None else None,
        extra=_extra(obj, _COMPLETION_KEYS),
        **_sampling(obj),
    )
    return InboundRequest(request, stream=stream, include_usage=include_usage)
