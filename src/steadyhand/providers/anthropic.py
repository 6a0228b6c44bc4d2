"""Anthropic Messages (``POST {base_url}/v1/messages``), base_url like ``https://api.anthropic.com``.

Structured output: Anthropic has no ``response_format``. A ``json_schema`` request (when the
capabilities list ``json_schema``) becomes a tool named after the format (``ResponseFormat.name``)
whose ``input_schema`` is the schema, forced with ``tool_choice`` (``any`` when the request has tools
of its own). The model's input to that tool is returned as the answer's text JSON, finish reason
``stop``, exactly as if the model had written it; other tool calls stay tool calls. ``json_object``
without a schema is left to the prompt (the structured-output layer asks and cleans up).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ..errors import (
    AuthenticationFailed,
    BadRequest,
    ConfigurationError,
    ContextWindowExceeded,
    ModelNotFound,
    Overloaded,
    PrefillNotSupported,
    ProviderHTTPError,
    QuotaExhausted,
    RateLimited,
    ServerError,
    UnexpectedProviderResponse,
)
from ..types import Choice, Message, ModelRequest, ModelResponse, Part, ToolCall
from ._anthropic_stream import AnthropicStreamDecoder, anthropic_finish, anthropic_usage
from ._common import json_bytes, loads
from ._errors import ErrorFields, build_error, parse_body
from .base import Capabilities, HTTPRequest, HTTPResponse, WireFormat

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "AnthropicMessages",
    "anthropic_finish",
    "anthropic_usage",
    "classify_anthropic_error",
]

DEFAULT_MAX_TOKENS = 1024
"""Sent when the request sets no ``max_tokens``: Anthropic requires it."""
_DATA_URL = re.compile(r"data:(?P<media>[^;,]+);base64,(?P<data>.*)", re.DOTALL)
_INBAND_STATUS = {
    "overloaded_error": 529,
    "rate_limit_error": 429,
    "api_error": 500,
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "billing_error": 402,
}


def _anthropic_fields(body: Any) -> tuple[ErrorFields, str | None]:
    """The error's fields and ``error.details.error_code`` (the spend-limit marker)."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        text = body.strip()[:500] if isinstance(body, str) else ""
        return ErrorFields(message=text, type=None, code=None), None
    details = err.get("details")
    detail_code = details.get("error_code") if isinstance(details, dict) else None
    etype, message = err.get("type"), err.get("message")
    return (
        ErrorFields(
            message=message if isinstance(message, str) else "",
            type=etype if isinstance(etype, str) else None,
            code=None,
        ),
        detail_code if isinstance(detail_code, str) else None,
    )


def classify_anthropic_error(
    status: int, fields: ErrorFields, detail_code: str | None
) -> type[ProviderHTTPError]:
    """The error class from the status, ``error.type`` and ``error.details.error_code``.

    Anthropic has no code for a too-long prompt or a rejected prefill (both ``invalid_request_error``),
    so those two are recognized from the message here, pinned by tests with recorded bodies.
    """
    etype = fields.type
    if detail_code == "enforced_spend_limit_reached" or etype == "billing_error" or status == 402:
        return QuotaExhausted
    if etype == "overloaded_error" or status == 529:
        return Overloaded
    if etype == "rate_limit_error" or status == 429:
        return RateLimited
    if etype in ("authentication_error", "permission_error") or status in (401, 403):
        return AuthenticationFailed
    if etype == "not_found_error" or status == 404:
        return ModelNotFound
    if status in (408, 409) or etype in ("api_error", "conflict_error") or status >= 500:
        return ServerError
    lowered = fields.message.lower()
    if "prompt is too long" in lowered or "context window" in lowered:
        return ContextWindowExceeded
    if "prefill" in lowered:
        return PrefillNotSupported
    return BadRequest


def _image(url: str) -> dict[str, Any]:
    match = _DATA_URL.fullmatch(url)
    if match:
        source = {"type": "base64", "media_type": match["media"], "data": match["data"]}
        return {"type": "image", "source": source}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: str | list[Part] | None) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [
        {"type": "text", "text": p.text} if p.type == "text" else _image(p.url)
        for p in content
        if p.type != "text" or p.text
    ]


def _tool_input(arguments: str) -> Any:
    try:
        value = loads(arguments or "{}")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"tool call arguments must be a JSON object for Anthropic, got {arguments[:80]!r}; fix it"
        )
    return value


def _messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """Top-level system text, and user/assistant turns; tool results go into the next user turn."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            system.append(m.text)
            continue
        if m.role == "tool":
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id or ""}
            if m.content:
                block["content"] = m.content if isinstance(m.content, str) else _blocks(m.content)
            blocks = [block]
        else:
            blocks = _blocks(m.content)
            if m.role == "assistant":
                blocks += [
                    {"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c.arguments)}
                    for c in m.tool_calls or ()
                ]
        role = "assistant" if m.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role and isinstance(turns[-1]["content"], list):
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:  # a lone text block is sent as a plain string: smaller, and what users write
        content = turn["content"]
        if len(content) == 1 and content[0]["type"] == "text":
            turn["content"] = content[0]["text"]
    if turns and turns[-1]["role"] == "assistant" and isinstance(turns[-1]["content"], str):
        turns[-1]["content"] = turns[-1]["content"].rstrip()  # Anthropic rejects trailing whitespace
    return ("\n\n".join(system) if system else None), turns


class AnthropicMessages(WireFormat):
    """The Messages API; ``default_max_tokens`` fills Anthropic's required ``max_tokens``."""

    name: ClassVar[str] = "anthropic_messages"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        provider_name: str,
        capabilities: Capabilities,
        default_headers: Mapping[str, str] | None = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
        anthropic_version: str = "2023-06-01",
        clock: Callable[[], float] = time.time,
    ) -> None:
        root = base_url.rstrip("/")
        self.url = root + ("/messages" if root.endswith("/v1") else "/v1/messages")
        self.api_key = api_key
        self.provider_name = provider_name
        self.capabilities = capabilities
        self.default_max_tokens = default_max_tokens
        self.clock = clock
        headers = {
            "content-type": "application/json",
            "anthropic-version": anthropic_version,
            **{k.lower(): v for k, v in (default_headers or {}).items()},
        }
        if api_key:
            headers["x-api-key"] = api_key
        self.headers: Mapping[str, str] = headers

    def answer_tool(self, request: ModelRequest) -> str | None:
        """The name of the forced tool that carries a ``json_schema`` answer, when one is used."""
        fmt = request.response_format
        if (
            fmt
            and fmt.type == "json_schema"
            and fmt.json_schema
            and "json_schema" in self.capabilities.response_formats
        ):
            return fmt.name
        return None

    def build_request(self, request: ModelRequest, *, stream: bool) -> HTTPRequest:
        caps = self.capabilities
        system, turns = _messages(request.messages)
        if turns and turns[-1]["role"] == "assistant" and not caps.assistant_prefill:
            raise PrefillNotSupported(
                f"{self.provider_name} is declared not to accept a final assistant message (assistant_prefill"
                "=False); drop the prefill or use a model that supports it",
                status_code=400,
                code="assistant_prefill_unsupported",
                provider=self.provider_name,
                model=request.model,
            )
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or self.default_max_tokens,
            "messages": turns,
        }
        if system is not None:
            body["system"] = system
        for key in ("temperature", "top_p"):
            value = getattr(request, key)
            if value is not None:
                body[key] = value
        if request.stop:
            body["stop_sequences"] = request.stop
        tools = [_tool(t.name, t.description, t.parameters) for t in request.tools or ()]
        if tools and not caps.tools:
            raise ConfigurationError(
                f"{self.provider_name} is declared not to support tools (capabilities.tools=False); "
                "remove the tools or choose a model that supports them"
            )
        choice = _tool_choice(request.tool_choice)
        answer = self.answer_tool(request)
        if answer is not None:
            fmt = request.response_format
            assert fmt is not None and fmt.json_schema is not None
            description = "Give your final answer by calling this tool; its input is the answer."
            choice = {"type": "any"} if tools else {"type": "tool", "name": answer}
            tools.append(_tool(answer, description, fmt.json_schema))
        if tools:
            body["tools"] = tools
        if choice is not None:
            body["tool_choice"] = choice
        if stream:
            body["stream"] = True
        if request.extra:
            body.update(request.extra)
        return HTTPRequest("POST", self.url, self.headers, json_bytes(body))

    def parse_response(self, response: HTTPResponse, request: ModelRequest) -> ModelResponse:
        if not 200 <= response.status_code < 300:
            raise self.map_error(response.status_code, response.headers, response.body, request.model)
        try:
            obj = loads(response.body)
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or not isinstance(obj.get("content"), list):
            if isinstance(obj, dict) and obj.get("type") == "error":
                raise self.stream_error(obj, request.model)
            raise UnexpectedProviderResponse(
                f"the response is not an Anthropic message: {response.body[:200]!r}",
                provider=self.provider_name,
                model=request.model,
            )
        answer = self.answer_tool(request)
        texts: list[str] = []
        calls: list[ToolCall] = []
        answered = False
        for block in obj["content"]:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                texts.append(str(block.get("text") or ""))
            elif kind == "tool_use":
                arguments = json_bytes(block.get("input") or {}).decode()
                if answer is not None and block.get("name") == answer:
                    texts.append(arguments)
                    answered = True
                else:
                    calls.append(
                        ToolCall(
                            id=str(block.get("id") or ""), name=str(block.get("name")), arguments=arguments
                        )
                    )
        finish, raw_finish = anthropic_finish(obj.get("stop_reason"))
        if answered and not calls and finish == "tool_calls":
            finish = "stop"
        text = "".join(texts)
        message = Message(
            role="assistant", content=text if text or not calls else None, tool_calls=calls or None
        )
        return ModelResponse(
            id=str(obj.get("id") or ""),
            model=str(obj.get("model") or request.model),
            provider=self.provider_name,
            choices=[
                Choice(message=message, finish_reason=finish or "unknown", raw_finish_reason=raw_finish)
            ],
            usage=anthropic_usage(obj.get("usage")),
        )

    def stream_decoder(self, request: ModelRequest) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(self, request.model, answer_tool=self.answer_tool(request))

    def map_error(
        self, status_code: int, headers: Mapping[str, str], body: bytes, model: str | None
    ) -> Exception:
        return self._error(status_code, headers, parse_body(body), model)

    def _error(
        self, status: int, headers: Mapping[str, str], body: Any, model: str | None
    ) -> ProviderHTTPError:
        fields, detail_code = _anthropic_fields(body)
        return build_error(
            classify_anthropic_error(status, fields, detail_code),
            status_code=status,
            headers=headers,
            body=body,
            fields=fields,
            code=detail_code or fields.type,
            provider=self.provider_name,
            model=model,
            now=self.clock(),
        )

    def stream_error(self, event: dict[str, Any], model: str) -> ProviderHTTPError:
        """The typed error for ``event: error`` after a 200; status is the one the same error would have."""
        fields, _ = _anthropic_fields(event)
        return self._error(_INBAND_STATUS.get(fields.type or "", 500), {}, event, model)


def _tool(name: str, description: str | None, schema: dict[str, Any]) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": name, "input_schema": schema}
    if description is not None:
        tool["description"] = description
    return tool


def _tool_choice(choice: str | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    mapped = {"auto": "auto", "required": "any", "none": "none"}.get(choice)
    return {"type": mapped} if mapped else {"type": "tool", "name": choice}
