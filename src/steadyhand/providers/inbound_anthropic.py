"""Inbound Anthropic codec, request side: a Messages body (``POST /v1/messages``) to a ``ModelRequest``.

Validation follows the real API and its pydantic-style wording (``messages.0.role: Input should be
'user' or 'assistant'``). The mapping is the inverse of ``AnthropicMessages.build_request``: the
top-level ``system`` becomes a leading system message, each ``tool_result`` block its own ``tool``
message, ``tool_use`` blocks the assistant's ``tool_calls``, and ``tool_choice`` ``any`` is
``required``. Body fields with no ``ModelRequest`` slot (``top_k``, ``metadata``, ``thinking``...)
go to ``extra``; blocks that cannot be carried (documents, thinking, ``cache_control``, server
tools) are refused, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import InvalidRequest
from ..types import ImagePart, Message, ModelRequest, Part, TextPart, Tool, ToolCall
from ._common import json_bytes
from ._inbound_check import MAX_BODY_BYTES, InboundRequest, Kind, Path, Style, parse_body

__all__ = ["ANTHROPIC_STYLE", "AnthropicStyle", "decode_messages"]

_KEYS = frozenset(
    {"model", "max_tokens", "messages", "system", "temperature", "top_p", "stop_sequences", "stream"}
    | {"tools", "tool_choice"}
)
_TYPE_WORDS = {
    "string": "a valid string",
    "integer": "a valid integer",
    "number": "a valid number",
    "boolean": "a valid boolean",
    "array": "a valid list",
    "object": "a valid dictionary",
}
_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


class AnthropicStyle(Style):
    """Anthropic's wording: ``<dotted.path>: Input should be ...`` (no ``param`` in its error body)."""

    def name(self, path: Path) -> str:
        return ".".join(str(p) for p in path)

    def _at(self, path: Path, text: str, code: str | None = None) -> InvalidRequest:
        return self.error(f"{self.name(path)}: {text}" if path else text, path, code)

    def bad_json(self) -> InvalidRequest:
        return self.error(
            "There was an issue with your request body: the body is not valid JSON.", None, None
        )

    def too_large(self, size: int, limit: int) -> InvalidRequest:
        return self.error(
            f"Request exceeds the maximum allowed number of bytes ({size} > {limit}).",
            None,
            "request_too_large",
            413,
        )

    def missing(self, path: Path) -> InvalidRequest:
        return self._at(path, "Field required", "missing_required_parameter")

    def wrong_type(self, path: Path, expected: Kind | str, value: Any) -> InvalidRequest:
        return self._at(path, f"Input should be {_TYPE_WORDS.get(expected, expected)}", "invalid_type")

    def out_of_range(
        self, path: Path, value: float, *, minimum: float | None, maximum: float | None, integer: bool
    ) -> InvalidRequest:
        if minimum is not None and value < minimum:
            return self._at(path, f"Input should be greater than or equal to {minimum}", "invalid_value")
        return self._at(path, f"Input should be less than or equal to {maximum}", "invalid_value")

    def not_finite(self, path: Path, value: float) -> InvalidRequest:
        return self._at(
            path, "Input should be a finite number (NaN and Infinity are not JSON)", "invalid_value"
        )

    def bad_value(self, path: Path, value: Any, allowed: Sequence[str]) -> InvalidRequest:
        words = [f"'{a}'" for a in allowed]
        listed = ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]
        return self._at(path, f"Input should be {listed}", "invalid_value")

    def length(self, path: Path, size: int, *, minimum: int, maximum: int | None) -> InvalidRequest:
        if size < minimum:
            noun = "item" if minimum == 1 else "items"
            return self._at(path, f"List should have at least {minimum} {noun} after validation, not {size}")
        return self._at(path, f"List should have at most {maximum} items after validation, not {size}")

    def bad_text(self, path: Path) -> InvalidRequest:
        return self._at(
            path, "Input should be a valid string: it contains a lone UTF-16 surrogate (like \\ud800)"
        )

    def unsupported(self, path: Path, what: str) -> InvalidRequest:
        return self._at(
            path, f"{what} is not supported by this server (steadyhand); remove it", "unsupported_value"
        )


ANTHROPIC_STYLE = AnthropicStyle()
_S = ANTHROPIC_STYLE


def _only(obj: dict[str, Any], keys: Sequence[str], path: Path) -> None:
    for key, value in obj.items():
        if key not in keys and value is not None:
            raise _S.unsupported((*path, key), f"'{key}'")


def _image(block: dict[str, Any], path: Path) -> ImagePart:
    source = _S.object(_S.required(block, "source", path), (*path, "source"))
    where = (*path, "source")
    kind = _S.choice(_S.required(source, "type", where), (*where, "type"), ("base64", "url"))
    if kind == "url":
        _only(source, ("type", "url"), where)
        return ImagePart(url=_S.string(_S.required(source, "url", where), (*where, "url")))
    _only(source, ("type", "media_type", "data"), where)
    media = _S.string(_S.required(source, "media_type", where), (*where, "media_type"))
    data = _S.string(_S.required(source, "data", where), (*where, "data"))
    return ImagePart(url=f"data:{media};base64,{data}")


def _parts(raw: Any, path: Path) -> str | list[Part]:
    """A text-and-image ``content`` (a string or a list of blocks): tool results and system."""
    if isinstance(raw, str):
        return raw
    parts: list[Part] = []
    for i, item in enumerate(_S.array(raw, path)):
        where = (*path, i)
        block = _S.object(item, where)
        kind = _S.string(_S.required(block, "type", where), (*where, "type"))
        if kind == "text":
            _only(block, ("type", "text"), where)
            parts.append(TextPart(text=_S.string(_S.required(block, "text", where), (*where, "text"))))
        elif kind == "image":
            _only(block, ("type", "source"), where)
            parts.append(_image(block, where))
        else:
            raise _S.unsupported((*where, "type"), f"a '{kind}' block here")
    return parts


def _collapse(parts: list[Part]) -> str | list[Part]:
    """A lone text block is what the outbound builder sends for plain string content."""
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return parts


def _turn(raw: Any, index: int, *, last: bool) -> list[Message]:
    path: Path = ("messages", index)
    msg = _S.object(raw, path)
    role = _S.choice(_S.required(msg, "role", path), (*path, "role"), ("user", "assistant"))
    _only(msg, ("role", "content"), path)
    where = (*path, "content")
    if "content" not in msg:
        raise _S.missing(where)
    raw_content = msg["content"]
    if raw_content in ("", []) and not (last and role == "assistant"):
        raise _S.error(
            f"messages.{index}: all messages must have non-empty content except for the optional final "
            "assistant message",
            path,
            "invalid_value",
        )
    if isinstance(raw_content, str):
        return [Message(role=role, content=raw_content)]
    out: list[Message] = []
    pending: list[Part] = []
    calls: list[ToolCall] = []

    def flush() -> None:
        """One message per run of blocks: text after a tool_use starts a new one, so order is kept."""
        if pending or calls:
            content = _collapse(list(pending)) if pending else None
            out.append(Message(role=role, content=content, tool_calls=list(calls) or None))
            pending.clear()
            calls.clear()

    for i, item in enumerate(_S.array(raw_content, where)):
        at = (*where, i)
        block = _S.object(item, at)
        kind = _S.string(_S.required(block, "type", at), (*at, "type"))
        if kind in ("text", "image") and calls:
            flush()
        if kind == "text":
            _only(block, ("type", "text"), at)
            pending.append(TextPart(text=_S.string(_S.required(block, "text", at), (*at, "text"))))
        elif kind == "image":
            _only(block, ("type", "source"), at)
            pending.append(_image(block, at))
        elif kind == "tool_use" and role == "assistant":
            _only(block, ("type", "id", "name", "input"), at)
            arguments = _S.object(_S.required(block, "input", at), (*at, "input"))
            calls.append(
                ToolCall(
                    id=_S.string(_S.required(block, "id", at), (*at, "id")),
                    name=_S.string(_S.required(block, "name", at), (*at, "name")),
                    arguments=json_bytes(arguments).decode(),
                )
            )
        elif kind == "tool_result" and role == "user":
            flush()
            _only(block, ("type", "tool_use_id", "content", "is_error"), at)
            if block.get("is_error"):
                raise _S.unsupported((*at, "is_error"), "'is_error: true'")
            content = block.get("content")
            out.append(
                Message(
                    role="tool",
                    tool_call_id=_S.string(_S.required(block, "tool_use_id", at), (*at, "tool_use_id")),
                    content=_parts(content, (*at, "content")) if content is not None else None,
                )
            )
        else:
            raise _S.unsupported((*at, "type"), f"a '{kind}' block in a '{role}' message")
    flush()
    return out or [Message(role=role, content=None)]  # an empty final assistant turn


def _tool(raw: Any, index: int) -> Tool:
    path: Path = ("tools", index)
    tool = _S.object(raw, path)
    kind = tool.get("type")
    if kind not in (None, "custom"):
        raise _S.unsupported((*path, "type"), f"the server tool '{kind}'")
    _only(tool, ("type", "name", "description", "input_schema"), path)
    description = tool.get("description")
    return Tool(
        name=_S.string(_S.required(tool, "name", path), (*path, "name")),
        description=_S.string(description, (*path, "description")) if description is not None else None,
        parameters=_S.object(_S.required(tool, "input_schema", path), (*path, "input_schema")),
    )


def _tool_choice(raw: Any, has_tools: bool) -> str | None:
    if raw is None:
        return None
    path: Path = ("tool_choice",)
    if not has_tools:
        raise _S.error("tool_choice may only be specified while providing tools.", path, None)
    choice = _S.object(raw, path)
    kind = _S.choice(_S.required(choice, "type", path), (*path, "type"), ("auto", "any", "tool", "none"))
    if choice.get("disable_parallel_tool_use"):
        raise _S.unsupported((*path, "disable_parallel_tool_use"), "'disable_parallel_tool_use'")
    if kind == "tool":
        return _S.string(_S.required(choice, "name", path), (*path, "name"))
    return _CHOICES[kind]


def decode_messages(body: Any, *, max_bytes: int = MAX_BODY_BYTES) -> InboundRequest:
    """A Messages request body (bytes, str or parsed JSON); raises ``InvalidRequest``."""
    obj = parse_body(body, _S, max_bytes=max_bytes)
    model = _S.string(_S.required(obj, "model"), ("model",))
    max_tokens = _S.integer(_S.required(obj, "max_tokens"), ("max_tokens",), minimum=1)
    turns = _S.array(_S.required(obj, "messages"), ("messages",), minimum=1)
    messages: list[Message] = []
    if obj.get("system") is not None:
        system = _parts(obj["system"], ("system",))
        if isinstance(system, list) and any(isinstance(p, ImagePart) for p in system):
            raise _S.unsupported(("system",), "an image in the system prompt")
        messages.append(Message(role="system", content=system))
    for i, turn in enumerate(turns):
        messages.extend(_turn(turn, i, last=i == len(turns) - 1))
    sampling: dict[str, Any] = {}
    for key in ("temperature", "top_p"):
        if obj.get(key) is not None:
            sampling[key] = _S.number(obj[key], (key,), minimum=0, maximum=1)
    if obj.get("top_k") is not None:
        _S.integer(obj["top_k"], ("top_k",), minimum=0)
    stop = obj.get("stop_sequences")
    tools = obj.get("tools")
    stream = obj.get("stream")
    request = ModelRequest(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        stop=[_S.string(s, ("stop_sequences", i)) for i, s in enumerate(_S.array(stop, ("stop_sequences",)))]
        if stop is not None
        else None,
        tools=[_tool(t, i) for i, t in enumerate(_S.array(tools, ("tools",)))] if tools is not None else None,
        tool_choice=_tool_choice(obj.get("tool_choice"), tools is not None),
        extra={k: v for k, v in obj.items() if k not in _KEYS},
        **sampling,
    )
    return InboundRequest(request, stream=_S.boolean(stream, ("stream",)) if stream is not None else False)
