"""Every row of the error-mapping tables, for both OpenAI-format and Anthropic adapters."""

from __future__ import annotations

import json
from typing import Any

import pytest

from steadyhand.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentFiltered,
    ContextWindowExceeded,
    ModelNotFound,
    Overloaded,
    PrefillNotSupported,
    ProviderHTTPError,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from steadyhand.providers.anthropic import AnthropicMessages
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.providers.openai_completions import OpenAICompletions
from steadyhand.types import Message, ModelRequest

from .wire_fixtures import CAPS, named_sse

NOW = 1_735_732_800.0  # 2025-01-01T12:00:00Z


def openai(cls: type[OpenAIChat | OpenAICompletions] = OpenAIChat) -> OpenAIChat | OpenAICompletions:
    return cls(
        base_url="http://h/v1", api_key="k", provider_name="openai", capabilities=CAPS, clock=lambda: NOW
    )


def anthropic() -> AnthropicMessages:
    return AnthropicMessages(
        base_url="http://h", api_key="k", provider_name="anthropic", capabilities=CAPS, clock=lambda: NOW
    )


def oa(type_: str | None, code: Any, message: str = "msg") -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


# Recorded from llama-cpp-python's server: FastAPI request validation surfaces as HTTP 500.
LLAMA_CPP_VALIDATION_500 = json.dumps(
    {
        "error": {
            "message": "1 validation error:\n  {'type': 'missing', 'loc': ('body', 'messages'), "
            "'msg': 'Field required', 'input': {'model': 'x'}}",
            "type": "internal_server_error",
            "param": None,
            "code": None,
        }
    }
).encode()
LLAMA_CPP_BAD_JSON_500 = oa(
    "internal_server_error",
    None,
    "1 validation error:\n  {'type': 'json_invalid', 'loc': ('body', 1), "
    "'msg': 'JSON decode error', 'input': {}}",
)
LLAMA_CPP_CONTEXT = json.dumps(
    {
        "error": {
            "code": 400,
            "message": "the request exceeds the available context size",
            "type": "exceed_context_size_error",
        }
    }
).encode()

OPENAI_ROWS: list[tuple[int, bytes, type[ProviderHTTPError], str | None]] = [
    (429, oa("tokens", "rate_limit_exceeded"), RateLimited, "rate_limit_exceeded"),
    (429, oa("insufficient_quota", "insufficient_quota"), QuotaExhausted, "insufficient_quota"),
    (
        429,
        oa("invalid_request_error", "credit_balance_exhausted"),
        QuotaExhausted,
        "credit_balance_exhausted",
    ),
    (429, oa(None, "organization_spend_limit_exceeded"), QuotaExhausted, "organization_spend_limit_exceeded"),
    (429, oa(None, "project_spend_limit_exceeded"), QuotaExhausted, "project_spend_limit_exceeded"),
    (429, oa("rate_limit_error", "slow_down"), RateLimited, "slow_down"),
    (503, oa("server_error", "server_is_overloaded"), Overloaded, "server_is_overloaded"),
    (500, oa("server_error", None), ServerError, "server_error"),
    (502, b"<html>Bad Gateway</html>", ServerError, None),
    (401, oa("invalid_request_error", "invalid_api_key"), AuthenticationFailed, "invalid_api_key"),
    (
        403,
        oa(None, "unsupported_country_region_territory"),
        AuthenticationFailed,
        "unsupported_country_region_territory",
    ),
    (
        400,
        oa("invalid_request_error", "context_length_exceeded"),
        ContextWindowExceeded,
        "context_length_exceeded",
    ),
    (400, LLAMA_CPP_CONTEXT, ContextWindowExceeded, "exceed_context_size_error"),
    (
        400,
        oa("BadRequestError", None, "This model's maximum context length is 2048 tokens."),
        ContextWindowExceeded,
        "BadRequestError",
    ),
    (400, oa("invalid_request_error", "content_filter"), ContentFiltered, "content_filter"),
    (
        400,
        oa("invalid_request_error", "content_policy_violation"),
        ContentFiltered,
        "content_policy_violation",
    ),
    (
        400,
        oa("invalid_request_error", None, "Assistant prefill is not supported by this model"),
        PrefillNotSupported,
        "invalid_request_error",
    ),
    (404, oa("invalid_request_error", "model_not_found"), ModelNotFound, "model_not_found"),
    (
        400,
        oa("invalid_request_error", "model_not_found"),
        ModelNotFound,
        "model_not_found",
    ),  # llama-cpp-python
    (404, b"Not Found", ModelNotFound, None),
    (422, oa("invalid_request_error", "invalid_value"), BadRequest, "invalid_value"),
    (408, b"", ServerError, None),
    (409, b"", ServerError, None),
    (500, LLAMA_CPP_VALIDATION_500, BadRequest, "internal_server_error"),
    (500, LLAMA_CPP_BAD_JSON_500, BadRequest, "internal_server_error"),
    (
        500,
        oa("internal_server_error", None, "llama_decode returned -1"),
        ServerError,
        "internal_server_error",
    ),
]


@pytest.mark.parametrize(("status", "raw", "cls", "code"), OPENAI_ROWS)
def test_openai_error_rows(status: int, raw: bytes, cls: type[ProviderHTTPError], code: str | None) -> None:
    for fmt in (OpenAIChat, OpenAICompletions):
        err = openai(fmt).map_error(status, {"X-Request-Id": "req_1"}, raw, "gpt-x")
        assert type(err) is cls
        assert isinstance(err, ProviderHTTPError)
        assert (err.status_code, err.code, err.provider, err.model) == (status, code, "openai", "gpt-x")
        assert err.headers == {"x-request-id": "req_1"}
        assert err.body == (json.loads(raw) if raw.startswith(b"{") else raw.decode() or None)


def test_validation_500_is_not_retryable() -> None:
    err = openai().map_error(500, {}, LLAMA_CPP_VALIDATION_500, "m")
    assert isinstance(err, BadRequest) and not err.retryable
    assert openai().map_error(500, {}, oa("server_error", None), "m").retryable  # type: ignore[attr-defined]


def test_retry_after_on_errors() -> None:
    headers = {"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"}
    err = openai().map_error(429, headers, oa("requests", "rate_limit_exceeded"), "m")
    assert isinstance(err, RateLimited) and err.retry_after == 1.0  # the type names the exhausted limit
    err = openai().map_error(429, {"Retry-After-Ms": "84"}, oa("tokens", "rate_limit_exceeded"), "m")
    assert isinstance(err, RateLimited) and err.retry_after == 0.084 and "retry after 0.084s" in str(err)
    err = openai().map_error(503, headers, oa("server_error", "server_is_overloaded"), "m")
    assert isinstance(err, Overloaded) and err.retry_after is None  # reset headers are for rate limits only
    err = anthropic().map_error(429, {"anthropic-ratelimit-tokens-reset": "2025-01-01T12:00:07Z"}, b"", "c")
    assert isinstance(err, RateLimited) and err.retry_after == 7.0


def an(type_: str, message: str = "msg", **extra: Any) -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": type_, "message": message, **extra}, "request_id": "req_011"}
    ).encode()


ANTHROPIC_ROWS: list[tuple[int, bytes, type[ProviderHTTPError], str | None]] = [
    (400, an("invalid_request_error", "max_tokens: Field required"), BadRequest, "invalid_request_error"),
    (
        400,
        an("invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"),
        ContextWindowExceeded,
        "invalid_request_error",
    ),
    (
        400,
        an("invalid_request_error", "This model does not support assistant message prefill."),
        PrefillNotSupported,
        "invalid_request_error",
    ),
    (
        400,
        an("invalid_request_error", "spend limit", details={"error_code": "enforced_spend_limit_reached"}),
        QuotaExhausted,
        "enforced_spend_limit_reached",
    ),
    (401, an("authentication_error"), AuthenticationFailed, "authentication_error"),
    (402, an("billing_error"), QuotaExhausted, "billing_error"),
    (403, an("permission_error"), AuthenticationFailed, "permission_error"),
    (404, an("not_found_error", "model: claude-9"), ModelNotFound, "not_found_error"),
    (409, an("conflict_error"), ServerError, "conflict_error"),
    (413, an("request_too_large"), BadRequest, "request_too_large"),
    (429, an("rate_limit_error"), RateLimited, "rate_limit_error"),
    (
        429,
        an("rate_limit_error", "cap", details={"error_code": "enforced_spend_limit_reached"}),
        QuotaExhausted,
        "enforced_spend_limit_reached",
    ),
    (500, an("api_error"), ServerError, "api_error"),
    (529, an("overloaded_error", "Overloaded"), Overloaded, "overloaded_error"),
    (503, b"upstream connect error", ServerError, None),
]


@pytest.mark.parametrize(("status", "raw", "cls", "code"), ANTHROPIC_ROWS)
def test_anthropic_error_rows(
    status: int, raw: bytes, cls: type[ProviderHTTPError], code: str | None
) -> None:
    err = anthropic().map_error(status, {"Request-Id": "req_011", "Retry-After": "3"}, raw, "claude")
    assert type(err) is cls
    assert isinstance(err, ProviderHTTPError)
    assert (err.status_code, err.code, err.provider, err.model, err.retry_after) == (
        status,
        code,
        "anthropic",
        "claude",
        3.0,
    )
    assert err.headers == {"request-id": "req_011", "retry-after": "3"}
    assert err.body == (json.loads(raw) if raw.startswith(b"{") else raw.decode())


def test_anthropic_error_event_after_200() -> None:
    w = anthropic()
    d = w.stream_decoder(ModelRequest(model="claude", messages=[Message(role="user", content="Hi")]))
    with pytest.raises(Overloaded) as info:
        d.feed(
            named_sse(
                {"type": "ping"},
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            )
        )
    assert info.value.status_code == 529 and info.value.retryable and info.value.code == "overloaded_error"
