"""Inbound Responses API codec, request side: a ``POST /v1/responses`` body to a ``ModelRequest``.

The inverse of ``openai_responses.OpenAIResponses.build_request``: ``instructions`` becomes a leading
system message; ``input`` (a string: one user message; or a list of items) becomes the messages:
``message`` items (``developer`` is ``system``), ``function_call`` items join the assistant message
before them as tool calls, ``function_call_output`` items are ``tool`` messages, and ``reasoning``
items (an SDK echoing a previous answer back) become the next assistant message's ``reasoning``.
``max_output_tokens`` is ``max_tokens``, ``text.format`` is ``response_format``.

Validation and wording are OpenAI's (``OPENAI_STYLE``, params like ``input[0].content``). What the
real API does but a stateless ``ModelRequest`` cannot carry (``previous_response_id``,
``conversation``, stored ``prompt`` templates, ``background``, hosted tools, file inputs, item
references, per-tool ``strict``) is refused with a 400 naming the field, never dropped; other body
fields (``store``, ``metadata``, ``user``, ``reasoning``...) go to ``ModelRequest.extra``.
"""

from __future__ import annotations

from typing import Any

from ..types import ImagePart, Message, ModelRequest, Part, ResponseFormat, TextPart, Tool, ToolCall
from ._inbound_check import MAX_BODY_BYTES, InboundRequest, Path, parse_body
from .inbound_openai import OPENAI_STYLE, _name, _only

__all__ = ["MIN_OUTPUT_TOKENS", "decode_responses"]

_S = OPENAI_STYLE
MIN_OUTPUT_TOKENS = 16
"""The real API's floor for ``max_output_tokens``."""
_KNOWN = frozenset(
    {"model", "input", "instructions", "tools", "tool_choice", "text", "temperature", "top_p"}
    | {"max_output_tokens", "stream", "stream_options"}
)
_STATEFUL = ("previous_response_id", "conversation", "prompt")
_ROLES = ("user", "assistant", "system", "developer")
_ITEMS = ("message", "function_call", "function_call_output", "reasoning")
_ECHOED = frozenset({"id", "status", "phase"})  # keys of an output item the SDK echoes back
_INPUT_PARTS = ("input_text", "input_image", "input_file")
_OUTPUT_PARTS = ("output_text", "refusal", "input_text")


def _parts(raw: list[Any], path: Path, *, assistant: bool) -> str | list[Part]:
    """A message's content parts; an assistant's (``output_text``/``refusal``) are joined to text."""
    parts: list[Part] = []
    texts: list[str] = []
    for i, item in enumerate(raw):
        where = (*path, i)
        part = _S.object(item, where)
        kinds = _OUTPUT_PARTS if assistant else _INPUT_PARTS
        kind = _S.choice(_S.required(part, "type", where), (*where, "type"), kinds)
        if kind == "input_file":
            raise _S.unsupported((*where, "type"), "an 'input_file' content part")
        if assistant:
            key = "refusal" if kind == "refusal" else "text"
            for extra in part:
                if extra not in ("type", key, "annotations", "logprobs"):
                    raise _S.unsupported((*where, extra), f"'{extra}'")
            texts.append(_S.string(_S.required(part, key, where), (*where, key)))
        elif kind == "input_text":
            _only(part, ("type", "text"), where)
            parts.append(TextPart(text=_S.string(_S.required(part, "text", where), (*where, "text"))))
        else:
            _only(part, ("type", "image_url", "detail", "file_id"), where)
            if part.get("file_id") is not None:
                raise _S.unsupported((*where, "file_id"), "an image by 'file_id' (send image_url)")
            url = _S.string(_S.required(part, "image_url", where), (*where, "image_url"))
            detail = part.get("detail")
            if detail is not None:
                detail = _S.choice(detail, (*where, "detail"), ("auto", "low", "high"))
            parts.append(ImagePart(url=url, detail=detail))
    return "".join(texts) if assistant else parts


def _message(item: dict[str, Any], path: Path) -> Message:
    role = _S.choice(_S.required(item, "role", path), (*path, "role"), _ROLES)
    for key in item:
        if key not in ("type", "role", "content") and key not in _ECHOED:
            raise _S.unsupported((*path, key), f"'{key}'")
    raw = _S.required(item, "content", path)
    where = (*path, "content")
    content: str | list[Part]
    if isinstance(raw, str):
        content = raw
    elif isinstance(raw, list):
        content = _parts(raw, where, assistant=role == "assistant")
    else:
        raise _S.wrong_type(where, "one of a string or array of objects", raw)
    return Message(role="system" if role == "developer" else role, content=content)


def _call(item: dict[str, Any], path: Path) -> ToolCall:
    _only(item, ("type", "call_id", "name", "arguments", *_ECHOED), path)
    return ToolCall(
        id=_S.string(_S.required(item, "call_id", path), (*path, "call_id")),
        name=_S.string(_S.required(item, "name", path), (*path, "name")),
        arguments=_S.string(_S.required(item, "arguments", path), (*path, "arguments")),
    )


def _output(item: dict[str, Any], path: Path) -> Message:
    _only(item, ("type", "call_id", "output", *_ECHOED), path)
    call_id = _S.string(_S.required(item, "call_id", path), (*path, "call_id"))
    raw = _S.required(item, "output", path)
    where = (*path, "output")
    if isinstance(raw, list):
        parts = _parts(raw, where, assistant=False)
        if any(isinstance(p, ImagePart) for p in parts):
            raise _S.unsupported(where, "an image in a function call's output")
        text = "".join(p.text for p in parts if isinstance(p, TextPart))
    else:
        text = _S.string(raw, where)
    return Message(role="tool", tool_call_id=call_id, content=text)


def _reasoning(item: dict[str, Any], path: Path) -> str:
    _only(item, ("type", "id", "summary", "content", "encrypted_content", "status"), path)
    texts = []
    for key in ("summary", "content"):
        for i, part in enumerate(_S.array(item.get(key) or [], (*path, key))):
            obj = _S.object(part, (*path, key, i))
            texts.append(_S.string(_S.required(obj, "text", (*path, key, i)), (*path, key, i, "text")))
        if texts:
            break
    return "\n\n".join(texts)


def _items(raw: Any) -> list[Message]:
    if isinstance(raw, str):
        return [Message(role="user", content=raw)]
    if not isinstance(raw, list):
        raise _S.wrong_type(("input",), "one of a string or array of input items", raw)
    messages: list[Message] = []
    for i, entry in enumerate(_S.array(raw, ("input",))):
        path: Path = ("input", i)
        item = _S.object(entry, path)
        kind = item.get("type", "message")
        if kind == "item_reference":
            raise _S.unsupported((*path, "type"), "an 'item_reference' (stored items)")
        kind = _S.choice(kind, (*path, "type"), _ITEMS)
        last = messages[-1] if messages else None
        if kind == "message":
            message = _message(item, path)
            reasoned = last is not None and last.role == "assistant" and last.content is None
            if message.role == "assistant" and reasoned and last is not None and not last.tool_calls:
                last.content = message.content  # the text after a reasoning item: one message
            else:
                messages.append(message)
        elif kind == "function_call":
            call = _call(item, path)
            if last is not None and last.role == "assistant":
                last.tool_calls = [*(last.tool_calls or ()), call]
            else:
                messages.append(Message(role="assistant", tool_calls=[call]))
        elif kind == "function_call_output":
            messages.append(_output(item, path))
        else:
            messages.append(Message(role="assistant", reasoning=_reasoning(item, path) or None))
    # a reasoning item with no summary and nothing after it says nothing: keep no empty turn
    return [
        m for m in messages if m.role != "assistant" or m.content is not None or m.tool_calls or m.reasoning
    ]


def _tool(raw: Any, index: int) -> Tool:
    path: Path = ("tools", index)
    tool = _S.object(raw, path)
    kind = _S.string(_S.required(tool, "type", path), (*path, "type"))
    if kind != "function":
        raise _S.unsupported((*path, "type"), f"the hosted tool '{kind}'")
    _only(tool, ("type", "name", "description", "parameters", "strict"), path)
    if tool.get("strict"):
        raise _S.unsupported((*path, "strict"), "per-tool 'strict' (send strict: false)")
    description = tool.get("description")
    out = Tool(
        name=_name(_S.required(tool, "name", path), (*path, "name")),
        description=_S.string(description, (*path, "description")) if description is not None else None,
    )
    if tool.get("parameters") is not None:
        out.parameters = _S.object(tool["parameters"], (*path, "parameters"))
    return out


def _tool_choice(raw: Any) -> str | None:
    path: Path = ("tool_choice",)
    if raw is None or isinstance(raw, str):
        return None if raw is None else _S.choice(raw, path, ("none", "auto", "required"))
    choice = _S.object(raw, path)
    kind = _S.string(_S.required(choice, "type", path), (*path, "type"))
    if kind != "function":
        raise _S.unsupported((*path, "type"), f"tool_choice type '{kind}'")
    _only(choice, ("type", "name"), path)
    return _S.string(_S.required(choice, "name", path), (*path, "name"))


def _format(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    text = _S.object(raw, ("text",))
    _only(text, ("format",), ("text",))
    if text.get("format") is None:
        return None
    path: Path = ("text", "format")
    fmt = _S.object(text["format"], path)
    kind = _S.choice(_S.required(fmt, "type", path), (*path, "type"), ("text", "json_schema", "json_object"))
    if kind != "json_schema":
        _only(fmt, ("type",), path)
        return None if kind == "text" else ResponseFormat(type="json_object")
    _only(fmt, ("type", "name", "schema", "strict"), path)
    strict = fmt.get("strict")
    return ResponseFormat(
        type="json_schema",
        name=_name(_S.required(fmt, "name", path), (*path, "name")),
        json_schema=_S.object(_S.required(fmt, "schema", path), (*path, "schema")),
        strict=_S.boolean(strict, (*path, "strict")) if strict is not None else None,
    )


def _stream(obj: dict[str, Any]) -> bool:
    stream = obj.get("stream")
    stream = _S.boolean(stream, ("stream",)) if stream is not None else False
    options = obj.get("stream_options")
    if options is not None:
        if not stream:
            raise _S.error(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                ("stream_options",),
                None,
            )
        opts = _S.object(options, ("stream_options",))
        _only(opts, ("include_obfuscation",), ("stream_options",))
    return stream


def decode_responses(body: Any, *, max_bytes: int = MAX_BODY_BYTES) -> InboundRequest:
    """A ``POST /v1/responses`` body (bytes, str or parsed JSON); raises ``InvalidRequest``."""
    obj = parse_body(body, _S, max_bytes=max_bytes)
    model = _S.string(_S.required(obj, "model"), ("model",))
    for key in _STATEFUL:
        if obj.get(key) is not None:
            raise _S.unsupported((key,), f"'{key}' (server-side conversation state; send the whole input)")
    if obj.get("background"):
        raise _S.unsupported(("background",), "background mode")
    messages = _items(_S.required(obj, "input"))
    instructions = obj.get("instructions")
    if instructions is not None:
        messages.insert(0, Message(role="system", content=_S.string(instructions, ("instructions",))))
    if not messages:
        raise _S.length(("input",), 0, minimum=1, maximum=None)
    limit = obj.get("max_output_tokens")
    raw_tools = obj.get("tools")
    tools = (
        [_tool(t, i) for i, t in enumerate(_S.array(raw_tools, ("tools",)))] if raw_tools is not None else []
    )
    fields: dict[str, Any] = {}
    if obj.get("temperature") is not None:
        fields["temperature"] = _S.number(obj["temperature"], ("temperature",), minimum=0, maximum=2)
    if obj.get("top_p") is not None:
        fields["top_p"] = _S.number(obj["top_p"], ("top_p",), minimum=0, maximum=1)
    request = ModelRequest(
        model=model,
        messages=messages,
        max_tokens=_S.integer(limit, ("max_output_tokens",), minimum=MIN_OUTPUT_TOKENS)
        if limit is not None
        else None,
        tools=tools or None,
        tool_choice=_tool_choice(obj.get("tool_choice")),
        response_format=_format(obj.get("text")),
        extra={k: v for k, v in obj.items() if k not in _KNOWN},
        **fields,
    )
    return InboundRequest(request, stream=_stream(obj))
