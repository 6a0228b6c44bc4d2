"""Error answers in the caller's protocol: every refusal and failure as the API it speaks words it.

An OpenAI client gets ``{"error": {"message", "type", "param", "code"}}``; an Anthropic client
``{"type": "error", "error": {"type", "message"}}``. A provider error is mapped to the status a
client should act on: the upstream's rate limit stays a 429 (its ``retry-after`` kept), a timeout is
a 504, an upstream that failed is a 502, a request the upstream refused keeps its 4xx. Nothing a
client sent can make the gateway answer 500.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from ..errors import (
    AuthenticationFailed,
    BadRequest,
    CircuitOpen,
    ConfigurationError,
    ContentFiltered,
    ContextWindowExceeded,
    DeadlineExceeded,
    InvalidRequest,
    ModelNotFound,
    Overloaded,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
)
from ..providers import inbound_anthropic_encode as anthropic_out
from ..providers import inbound_openai_encode as openai_out
from ..providers._common import json_bytes
from ..providers.ratelimit_headers import format_duration

__all__ = ["Protocol", "Reply", "error_event", "error_reply", "exception_reply"]

Protocol = Literal["openai", "anthropic"]

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    429: "requests",
    431: "invalid_request_error",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "timeout",
}


@dataclass(slots=True)
class Reply:
    """A whole JSON answer: status, extra headers and the body."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


def _doc(
    protocol: Protocol, status: int, message: str, *, param: str | None, code: str | None
) -> dict[str, object]:
    if protocol == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
        return anthropic_out.error_body(message, type=kind)
    kind = (
        "insufficient_quota"
        if code == "insufficient_quota"
        else _OPENAI_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    )
    return openai_out.error_body(message, type=kind, param=param, code=code)


def error_reply(
    protocol: Protocol, status: int, message: str, *, param: str | None = None, code: str | None = None
) -> Reply:
    """A refusal the gateway itself words (unknown model, bad key, oversize body...)."""
    return Reply(status, json_bytes(_doc(protocol, status, message, param=param, code=code)))


def _retry_headers(seconds: float | None) -> list[tuple[str, str]]:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return []
    return [("retry-after", str(max(1, math.ceil(seconds)))), ("retry-after-ms", str(int(seconds * 1000)))]


def _status(exc: ProviderError) -> tuple[int, str | None]:
    """The status the caller sees for a provider failure, and OpenAI's ``code`` for it."""
    if (
        isinstance(exc, DeadlineExceeded)
        and isinstance(exc.last_error, ProviderError)
        and exc.reason == "options"
    ):
        return _status(exc.last_error)
    if isinstance(exc, QuotaExhausted):
        return 429, "insufficient_quota"
    if isinstance(exc, RateLimited):
        return 429, "rate_limit_exceeded"
    if isinstance(exc, Overloaded | CircuitOpen):
        return 503, "service_unavailable"
    if isinstance(exc, AuthenticationFailed):
        return 502, "upstream_authentication_failed"  # the gateway's credentials, not the caller's
    if isinstance(exc, ContextWindowExceeded):
        return 400, "context_length_exceeded"
    if isinstance(exc, ContentFiltered):
        return 400, "content_filter"
    if isinstance(exc, ModelNotFound):
        return 404, "model_not_found"
    if isinstance(exc, BadRequest):
        return (exc.status_code if 400 <= exc.status_code < 500 else 400), exc.code
    if isinstance(exc, ProviderTimeout | DeadlineExceeded):
        return 504, "timeout"
    if isinstance(exc, ProviderHTTPError) and 400 <= exc.status_code < 500:
        return exc.status_code, exc.code
    return 502, "upstream_error"


def exception_reply(protocol: Protocol, exc: BaseException) -> Reply:
    """The answer for an error raised while serving a request, before anything was sent."""
    if isinstance(exc, InvalidRequest):
        if protocol == "anthropic":
            body = anthropic_out.invalid_request_body(exc)
        else:
            body = openai_out.invalid_request_body(exc)
        return Reply(exc.status_code, json_bytes(body))
    if isinstance(exc, ConfigurationError):  # a request the configuration cannot serve as asked
        return error_reply(protocol, 400, str(exc), code="invalid_request")
    if isinstance(exc, ProviderError):
        status, code = _status(exc)
        reply = error_reply(protocol, status, _message(exc), code=code)
        cause = exc.last_error if isinstance(exc, DeadlineExceeded) else exc
        retry = getattr(cause, "retry_after", None)
        if retry is None and isinstance(exc, CircuitOpen):
            retry = exc.retry_in
        reply.headers += _retry_headers(retry)
        if isinstance(cause, RateLimited) and cause.local:  # steadyhand's own limit, not the upstream's
            reply.headers.append(("x-ratelimit-remaining-requests", "0"))
            if retry is not None:
                reply.headers.append(("x-ratelimit-reset-requests", format_duration(retry)))
        return reply
    raise exc


def _message(exc: ProviderError) -> str:
    where = f" ({exc.provider}:{exc.model})" if getattr(exc, "provider", None) else ""
    return f"upstream {type(exc).__name__}{where}: {exc}"


def error_event(protocol: Protocol, exc: BaseException) -> bytes:
    """The event that ends a stream that broke after its first byte: never a clean end."""
    if isinstance(exc, ProviderError):
        status, code = _status(exc)
        message = _message(exc)
    else:
        status, code = 502, "stream_error"
        message = f"the stream broke: {type(exc).__name__}: {exc}"
    doc = _doc(protocol, status if status >= 500 else 502, message, param=None, code=code)
    if protocol == "anthropic":
        return anthropic_out.sse_event("error", doc)
    return openai_out.sse_data(doc)
