"""OpenAI's Responses API (``POST {base_url}/responses``) behind the same chat call.

The mapping, both ways (``inbound_openai_responses`` is its inverse):

- the first message, when it is a system message with plain text, is ``instructions``; every other
  message is an ``input`` item: ``{"type": "message", "role": ..., "content": ...}`` with
  ``input_text`` / ``input_image`` parts, an assistant's tool calls are ``function_call`` items
  (``call_id`` is the call's id) and a tool result is a ``function_call_output`` item;
- ``max_tokens`` is ``max_output_tokens``, ``response_format`` is ``text.format``, tools are
  flat ``{"type": "function", "name": ...}`` entries (``strict: false``, the chat API's behaviour);
- the answer's ``output`` items are read back: ``message`` text (a ``refusal`` part sets
  ``finish_reason="refusal"``), ``function_call`` items as tool calls, ``reasoning`` summaries as
  ``Message.reasoning``; ``status`` / ``incomplete_details.reason`` give the finish reason.

The Responses API has no ``stop``, ``seed`` or ``n``: a stop sequence is refused (the answer would
run past it), ``seed`` and ``n=1`` are dropped and noted like any field a target lacks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ..errors import ConfigurationError, UnexpectedProviderResponse
from ..types import Choice, FinishReason, Message, ModelRequest, ModelResponse, Part, ToolCall, Usage
from ._common import as_int, json_bytes, loads
from ._responses_stream import ResponsesStreamDecoder
from .base import Capabilities, HTTPRequest, HTTPResponse
from .openai_chat import OpenAIWire, _response_format

__all__ = [
    "OpenAIResponses",
    "input_items",
    "parse_output",
    "responses_finish",
    "responses_usage",
]

_INCOMPLETE: dict[str, FinishReason] = {"max_output_tokens": "length", "content_filter": "content_filter"}


def responses_usage(raw: Any) -> Usage:
    """The Responses API's usage in steadyhand's convention (``input_tokens`` includes cached ones)."""
    if not isinstance(raw, dict):
        return Usage()
    inp = raw.get("input_tokens_details")
    out = raw.get("output_tokens_details")
    inp = inp if isinstance(inp, dict) else {}
    out = out if isinstance(out, dict) else {}
    return Usage(
        input_tokens=as_int(raw.get("input_tokens")),
        output_tokens=as_int(raw.get("output_tokens")),
        cached_input_tokens=as_int(inp.get("cached_tokens")),
        cache_write_tokens=as_int(inp.get("cache_write_tokens")),
        reasoning_tokens=as_int(out.get("reasoning_tokens")),
        raw=raw,
    )


def responses_finish(obj: dict[str, Any], *, calls: bool, refused: bool) -> tuple[FinishReason, str]:
    """The finish reason of a response object, and the provider's own word for it."""
    status = str(obj.get("status") or "completed")
    if status == "incomplete":
        details = obj.get("incomplete_details")
        reason = str(details.get("reason") or "") if isinstance(details, dict) else ""
        return _INCOMPLETE.get(reason, "unknown"), reason or status
    if status != "completed":
        return "unknown", status
    if refused:
        return "refusal", status
    return ("tool_calls" if calls else "stop"), status


def _texts(parts: Any, key: str = "text") -> list[str]:
    return [p[key] for p in parts or () if isinstance(p, dict) and isinstance(p.get(key), str)]


def parse_output(obj: dict[str, Any]) -> tuple[Message, bool]:
    """The assistant message that a response's ``output`` items add up to, and whether it refused."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    refused = False
    for item in obj.get("output") or ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                    refused = True
                    text.append(part["refusal"])
                elif isinstance(part.get("text"), str):
                    text.append(part["text"])
        elif kind == "function_call":
            args = item.get("arguments")
            calls.append(
                ToolCall(
                    id=str(item.get("call_id") or item.get("id") or f"call_{len(calls)}"),
                    name=str(item.get("name") or ""),
                    arguments=args if isinstance(args, str) else json_bytes(args or {}).decode(),
                )
            )
        elif kind == "reasoning":
            reasoning += _texts(item.get("summary")) or _texts(item.get("content"))
    joined = "".join(text)
    message = Message(
        role="assistant",
        content=joined if joined or not calls else None,
        tool_calls=calls or None,
        reasoning="\n\n".join(reasoning) if reasoning else None,
    )
    return message, refused


def _input_part(part: Part) -> dict[str, Any]:
    if part.type == "text":
        return {"type": "input_text", "text": part.text}
    return {"type": "input_image", "image_url": part.url, "detail": part.detail or "auto"}


def input_items(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """``instructions`` and the ``input`` items for a conversation (the module docstring's mapping)."""
    instructions = None
    if messages and messages[0].role == "system" and isinstance(messages[0].content, str):
        instructions, messages = messages[0].content, messages[1:]
    items: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            items.append({"type": "function_call_output", "call_id": m.tool_call_id or "", "output": m.text})
            continue
        if m.role == "assistant":
            if m.content is not None or not m.tool_calls:
                items.append({"type": "message", "role": "assistant", "content": m.text})
            items += [
                {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
                for c in m.tool_calls or ()
            ]
            continue
        content: Any = "" if m.content is None else m.content
        if isinstance(content, list):
            content = [_input_part(p) for p in content]
        items.append({"type": "message", "role": m.role, "content": content})
    return instructions, items


def _tool(t: Any) -> dict[str, Any]:
    tool: dict[str, Any] = {"type": "function", "name": t.name}
    if t.description is not None:
        tool["description"] = t.description
    return {**tool, "parameters": t.parameters, "strict": False}


def _text_format(request: ModelRequest, caps: Capabilities) -> dict[str, Any] | None:
    """``text.format``: the chat API's ``response_format`` reshaped (name and schema at the top)."""
    fmt = _response_format(request, caps)
    if fmt is None:
        return None
    if fmt["type"] == "json_schema":
        return {"type": "json_schema", **fmt["json_schema"]}
    return {"type": "json_object"}


class OpenAIResponses(OpenAIWire):
    """``/responses``: base_url like ``https://api.openai.com/v1``."""

    name: ClassVar[str] = "openai_responses"
    path: ClassVar[str] = "/responses"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        provider_name: str,
        capabilities: Capabilities,
        default_headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        # The API has neither ``seed`` nor ``n``: shaping drops them (and refuses ``n`` > 1), noted.
        caps = dataclasses.replace(capabilities, seed=False, n=False)
        extra = {} if clock is None else {"clock": clock}
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            provider_name=provider_name,
            capabilities=caps,
            default_headers=default_headers,
            **extra,
        )

    def build_request(self, request: ModelRequest, *, stream: bool) -> HTTPRequest:
        if request.stop:
            raise ConfigurationError(
                f"{self.provider_name} is called through the Responses API, which has no stop sequences; "
                'drop stop, or use the chat API for this model (api = "chat" in its alias)'
            )
        if request.tools and not self.capabilities.tools:
            raise ConfigurationError(
                f"{self.provider_name} is declared not to support tools (capabilities.tools=False); "
                "remove the tools or choose a model that supports them"
            )
        instructions, items = input_items(request.messages)
        body: dict[str, Any] = {"model": request.model, "input": items}
        if instructions is not None:
            body["instructions"] = instructions
        if request.tools:
            body["tools"] = [_tool(t) for t in request.tools]
        choice = request.tool_choice
        if choice is not None:
            body["tool_choice"] = (
                choice if choice in ("auto", "none", "required") else {"type": "function", "name": choice}
            )
        fmt = _text_format(request, self.capabilities)
        if fmt is not None:
            body["text"] = {"format": fmt}
        for key, value in (("temperature", request.temperature), ("top_p", request.top_p)):
            if value is not None:
                body[key] = value
        if request.max_tokens is not None:
            body["max_output_tokens"] = request.max_tokens
        if stream:
            body["stream"] = True
        body.update(request.extra)
        return HTTPRequest("POST", self.url, self.headers, json_bytes(body))

    def failed_error(self, response: dict[str, Any], model: str) -> Exception:
        """The typed error for a response with ``status: failed`` (its ``error`` has code and message)."""
        err = response.get("error")
        err = err if isinstance(err, dict) else {}
        code = err.get("code") if isinstance(err.get("code"), str) else "server_error"
        message = err.get("message") if isinstance(err.get("message"), str) else "the response failed"
        return self.stream_error({"error": {"message": message, "type": code, "code": code}}, model)

    def parse_response(self, response: HTTPResponse, request: ModelRequest) -> ModelResponse:
        obj = self._checked(response, request)
        return self.response_from(obj, request.model)

    def _checked(self, response: HTTPResponse, request: ModelRequest) -> dict[str, Any]:
        """The response object of a 2xx body; a failed response or an error envelope raises."""
        if not 200 <= response.status_code < 300:
            raise self.map_error(response.status_code, response.headers, response.body, request.model)
        try:
            obj = loads(response.body)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and obj.get("status") == "failed":
            raise self.failed_error(obj, request.model)
        if isinstance(obj, dict) and isinstance(obj.get("error"), dict) and "output" not in obj:
            raise self.stream_error(obj, request.model)
        if not isinstance(obj, dict) or not isinstance(obj.get("output"), list):
            raise UnexpectedProviderResponse(
                f"the response is not a Responses API object with output: {response.body[:200]!r}",
                provider=self.provider_name,
                model=request.model,
            )
        return obj

    def response_from(self, obj: dict[str, Any], model: str) -> ModelResponse:
        """A ``ModelResponse`` from a Response object (a body, or ``response.completed``'s)."""
        message, refused = parse_output(obj)
        finish, raw = responses_finish(obj, calls=bool(message.tool_calls), refused=refused)
        created = obj.get("created_at")
        return ModelResponse(
            id=str(obj.get("id") or ""),
            model=str(obj.get("model") or model),
            provider=self.provider_name,
            choices=[Choice(message=message, finish_reason=finish, raw_finish_reason=raw)],
            usage=responses_usage(obj.get("usage")),
            created=int(created)
            if isinstance(created, int | float) and not isinstance(created, bool)
            else None,
        )

    def stream_decoder(self, request: ModelRequest) -> ResponsesStreamDecoder:
        return ResponsesStreamDecoder(self, request.model)
