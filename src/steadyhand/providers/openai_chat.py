"""OpenAI Chat Completions (``POST {base_url}/chat/completions``) and every server that copies it.

Parsing is liberal, because vLLM, Ollama, llama.cpp and LM Studio leave out fields OpenAI always
sends (``refusal``, ``created``, ``usage``, ``id``, ``logprobs``). Requests are shaped to the
server's declared :class:`Capabilities`, so nothing it is declared to reject is ever sent.
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
    ContentFiltered,
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
from ..types import Choice, Message, ModelRequest, ModelResponse, ToolCall
from ._common import as_int, json_bytes, loads
from ._errors import ErrorFields, build_error, error_fields, parse_body
from ._openai_stream import OpenAIStreamDecoder, openai_finish, openai_usage
from .base import Capabilities, HTTPRequest, HTTPResponse, WireFormat

__all__ = ["OpenAIChat", "OpenAIWire", "classify_openai_error", "openai_finish", "openai_usage"]

QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "credit_balance_exhausted",
        "organization_spend_limit_exceeded",
        "project_spend_limit_exceeded",
    }
)
_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
_FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "invalid_prompt"})
_PREFILL_CODES = frozenset({"prefill_not_supported", "assistant_prefill_not_supported"})
_AUTH_CODES = frozenset({"invalid_api_key", "authentication_error", "permission_error"})
_RATE_CODES = frozenset({"rate_limit_exceeded", "rate_limit_error", "slow_down", "requests", "tokens"})
_GENERIC_400 = frozenset({"invalid_request_error", "BadRequestError", "invalid_request"})
# In-band stream errors carry no status: the status the same error would have had as a response.
_INBAND_STATUS = {
    "server_is_overloaded": 503,
    "insufficient_quota": 429,
    "rate_limit_exceeded": 429,
    "requests": 429,
    "tokens": 429,
    "context_length_exceeded": 400,
    "content_filter": 400,
    "invalid_request_error": 400,
    "invalid_api_key": 401,
    "model_not_found": 404,
    "server_error": 500,
}
# llama.cpp's Python server answers a request that fails validation (or is not JSON) with HTTP 500,
# type "internal_server_error", code null and FastAPI/pydantic's error text as the message. Matching
# the message is unavoidable there (no code exists); it is pinned by a test with a recorded body.
_VALIDATION_MESSAGE = re.compile(r"^\s*\d+ validation errors?\b|'type': 'json_invalid'|JSON decode error")


def classify_openai_error(status: int, fields: ErrorFields) -> type[ProviderHTTPError]:
    """The error class for an OpenAI-compatible error, from the status and the error's type/code.

    Codes win over statuses (a 429 ``insufficient_quota`` is a quota, not a rate limit); message text
    is consulted only when the server sent no specific code (vLLM's context-length message, a prefill
    rejection, llama.cpp's 500-for-validation).
    """
    keys = {k for k in (fields.type, fields.code) if k}
    message = fields.message
    if keys & QUOTA_CODES:
        return QuotaExhausted
    if keys & _CONTEXT_CODES:
        return ContextWindowExceeded
    if keys & _FILTER_CODES:
        return ContentFiltered
    if keys & _PREFILL_CODES:
        return PrefillNotSupported
    if "model_not_found" in keys:
        return ModelNotFound
    if "server_is_overloaded" in keys:
        return Overloaded
    if status == 429 or keys & _RATE_CODES:
        return RateLimited
    if status in (401, 403) or keys & _AUTH_CODES:
        return AuthenticationFailed
    if status == 500 and fields.type == "internal_server_error" and _VALIDATION_MESSAGE.search(message):
        return BadRequest
    if status in (408, 409) or status >= 500:
        return ServerError
    if 400 <= status < 500:
        if keys <= _GENERIC_400:
            lowered = message.lower()
            if "maximum context length" in lowered or "context window" in lowered:
                return ContextWindowExceeded
            if "prefill" in lowered:
                return PrefillNotSupported
        return ModelNotFound if status == 404 else BadRequest
    return ServerError


def _part(part: Any) -> dict[str, Any]:
    if part.type == "text":
        return {"type": "text", "text": part.text}
    image: dict[str, Any] = {"url": part.url}
    if part.detail:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _message(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role}
    content = m.content
    if isinstance(content, list):
        out["content"] = [_part(p) for p in content]
    else:
        out["content"] = content if content is not None or m.role == "assistant" else ""
    if m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    if m.name is not None:
        out["name"] = m.name
    return out


def _response_format(request: ModelRequest, caps: Capabilities) -> dict[str, Any] | None:
    """The most faithful form of the requested format that the server is declared to accept."""
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None
    supported = caps.response_formats
    schema = fmt.json_schema if fmt.type == "json_schema" else None
    if schema is not None and "json_schema" in supported:
        spec: dict[str, Any] = {"name": fmt.name, "schema": schema}
        if fmt.strict is not None:
            spec["strict"] = fmt.strict
        return {"type": "json_schema", "json_schema": spec}
    if schema is not None and "json_object_schema" in supported:
        return {"type": "json_object", "schema": schema}
    if supported & {"json_object", "json_object_schema"}:
        return {"type": "json_object"}
    return None


class OpenAIWire(WireFormat):
    """What the two OpenAI formats share: construction, headers, usage, errors and stream errors."""

    path: ClassVar[str]

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        provider_name: str,
        capabilities: Capabilities,
        default_headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + self.path
        self.api_key = api_key
        self.provider_name = provider_name
        self.capabilities = capabilities
        self.clock = clock
        headers = {
            "content-type": "application/json",
            **{k.lower(): v for k, v in (default_headers or {}).items()},
        }
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self.headers: Mapping[str, str] = headers

    def _response(self, obj: dict[str, Any], request: ModelRequest, choices: list[Choice]) -> ModelResponse:
        """The envelope both formats share; liberal about what OpenAI-compatible servers leave out."""
        return ModelResponse(
            id=str(obj.get("id") or ""),
            model=str(obj.get("model") or request.model),
            provider=self.provider_name,
            choices=choices,
            usage=openai_usage(obj.get("usage")),
            created=as_int(obj.get("created")),
        )

    def _common_body(self, request: ModelRequest, body: dict[str, Any], *, stream: bool) -> bytes:
        caps = self.capabilities
        for key in ("temperature", "top_p", "max_tokens"):
            value = getattr(request, key)
            if value is not None:
                body[key] = value
        if request.seed is not None and caps.seed:
            body["seed"] = request.seed
        if request.n is not None and caps.n:
            body["n"] = request.n
        if stream:
            body["stream"] = True
            if caps.stream_usage:
                body["stream_options"] = {"include_usage": True}
        if request.extra:
            body.update(request.extra)
        return json_bytes(body)

    def _loads(self, body: bytes, model: str) -> dict[str, Any]:
        try:
            obj = loads(body)
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list):
            raise UnexpectedProviderResponse(
                f"the response is not an OpenAI-format JSON object with choices: {body[:200]!r}",
                provider=self.provider_name,
                model=model,
            )
        return obj

    def map_error(
        self, status_code: int, headers: Mapping[str, str], body: bytes, model: str | None
    ) -> Exception:
        parsed = parse_body(body)
        return self._error(status_code, headers, parsed, model)

    def _error(
        self, status: int, headers: Mapping[str, str], body: Any, model: str | None
    ) -> ProviderHTTPError:
        fields = error_fields(body)
        cls = classify_openai_error(status, fields)
        return build_error(
            cls,
            status_code=status,
            headers=headers,
            body=body,
            fields=fields,
            code=fields.code or fields.type,
            provider=self.provider_name,
            model=model,
            now=self.clock(),
            limit_kind=fields.type if fields.type in ("requests", "tokens") else None,
        )

    def stream_error(self, event: dict[str, Any], model: str) -> ProviderHTTPError:
        """The typed error for an in-band ``data: {"error": ...}`` event.

        ``status_code`` is the status the same error would have had as a response: llama.cpp's int
        ``code`` when given, else looked up from the code/type (500 when unknown, so it is retryable).
        """
        err = event.get("error")
        status = err.get("code") if isinstance(err, dict) else None
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status < 600:
            fields = error_fields(event)
            status = _INBAND_STATUS.get(fields.code or "", _INBAND_STATUS.get(fields.type or "", 500))
        return self._error(status, {}, event, model)

    def _checked(self, response: HTTPResponse, request: ModelRequest) -> dict[str, Any]:
        if not 200 <= response.status_code < 300:
            raise self.map_error(response.status_code, response.headers, response.body, request.model)
        obj = self._loads(response.body, request.model)
        if obj.get("error"):
            raise self.stream_error(obj, request.model)
        return obj


class OpenAIChat(OpenAIWire):
    """``/chat/completions``: base_url like ``https://api.openai.com/v1`` or ``http://localhost:8080/v1``."""

    name: ClassVar[str] = "openai_chat"
    path: ClassVar[str] = "/chat/completions"

    def build_request(self, request: ModelRequest, *, stream: bool) -> HTTPRequest:
        caps = self.capabilities
        messages = request.messages
        if messages and messages[-1].role == "assistant" and not caps.assistant_prefill:
            raise PrefillNotSupported(
                f"{self.provider_name} is declared not to accept a final assistant message (assistant_prefill"
                "=False); drop the prefill or use a provider that supports it",
                status_code=400,
                code="assistant_prefill_unsupported",
                provider=self.provider_name,
                model=request.model,
            )
        body: dict[str, Any] = {"model": request.model, "messages": [_message(m) for m in messages]}
        if request.tools:
            if not caps.tools:
                raise ConfigurationError(
                    f"{self.provider_name} is declared not to support tools (capabilities.tools=False); "
                    "remove the tools or choose a model that supports them"
                )
            body["tools"] = [_tool(t) for t in request.tools]
        if request.tool_choice is not None:
            choice = request.tool_choice
            body["tool_choice"] = (
                choice
                if choice in ("auto", "none", "required")
                else {"type": "function", "function": {"name": choice}}
            )
        fmt = _response_format(request, caps)
        if fmt is not None:
            body["response_format"] = fmt
        if request.stop:
            body["stop"] = request.stop
        return HTTPRequest("POST", self.url, self.headers, self._common_body(request, body, stream=stream))

    def parse_response(self, response: HTTPResponse, request: ModelRequest) -> ModelResponse:
        obj = self._checked(response, request)
        choices = []
        for i, c in enumerate(obj["choices"]):
            if not isinstance(c, dict):
                raise UnexpectedProviderResponse(
                    f"choice {i} is not an object", provider=self.provider_name, model=request.model
                )
            finish, raw_finish = openai_finish(c.get("finish_reason"))
            message, refused = _parse_message(c.get("message"))
            if refused and finish in (None, "stop"):
                finish = "refusal"
            choices.append(
                Choice(
                    index=as_int(c.get("index")) or i,
                    message=message,
                    finish_reason=finish or "unknown",
                    raw_finish_reason=raw_finish,
                )
            )
        return self._response(obj, request, choices)

    def stream_decoder(self, request: ModelRequest) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(self, request.model, text_key=None)


def _tool(t: Any) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": t.name, "parameters": t.parameters}
    if t.description is not None:
        fn["description"] = t.description
    return {"type": "function", "function": fn}


def _parse_message(raw: Any) -> tuple[Message, bool]:
    """The assistant message, and whether it is a refusal (OpenAI's ``refusal`` text, content null)."""
    msg = raw if isinstance(raw, dict) else {}
    content = msg.get("content")
    if isinstance(content, list):  # some servers return parts even for text
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    refusal = msg.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal) and not content
    if refused:
        content = refusal
    calls = []
    for i, tc in enumerate(msg.get("tool_calls") or ()):
        fn = tc.get("function") or {}
        args = fn.get("arguments")
        calls.append(
            ToolCall(
                id=str(tc.get("id") or f"call_{i}"),
                name=str(fn.get("name") or ""),
                arguments=args if isinstance(args, str) else json_bytes(args or {}).decode(),
            )
        )
    message = Message(
        role="assistant",
        content=content if isinstance(content, str) else None,
        tool_calls=calls or None,
    )
    return message, refused
