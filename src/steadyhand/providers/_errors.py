"""Turning an error response into a typed error: the parts every adapter shares.

Each adapter decides the error *class* from the status and its provider's structured error fields
(see ``openai_chat.classify_openai_error`` and ``anthropic.classify_anthropic_error``); this module
parses the body, reads the wait from the headers and builds the exception with everything attached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import (
    AuthenticationFailed,
    ContentFiltered,
    ContextWindowExceeded,
    ModelNotFound,
    Overloaded,
    PrefillNotSupported,
    ProviderHTTPError,
    QuotaExhausted,
    RateLimited,
)
from ._common import loads
from .ratelimit_headers import retry_after_seconds

__all__ = ["ErrorFields", "build_error", "error_fields", "parse_body"]

_HINTS: dict[type[ProviderHTTPError], str] = {
    RateLimited: "rate limited; retry after the wait or lower the request rate",
    QuotaExhausted: "quota or spend limit reached; retrying cannot help: top up or switch provider",
    Overloaded: "provider overloaded; retry later or fall back to another provider",
    AuthenticationFailed: "check the provider's API key and its permissions",
    ContextWindowExceeded: "shorten the prompt or lower max_tokens",
    ContentFiltered: "the provider's content filter refused it; rephrase the input",
    PrefillNotSupported: "this model does not accept a final assistant message; drop the prefill",
    ModelNotFound: "check the model name (the alias's pinned model) for this provider",
}


@dataclass(frozen=True, slots=True)
class ErrorFields:
    """What a provider's error envelope says, whatever its shape."""

    message: str
    type: str | None
    code: str | None
    """The structured ``code`` when it is a string (llama.cpp sends an int: then None)."""


def parse_body(body: bytes) -> Any:
    """The body as JSON when it parses, else as text (an HTML error page stays readable)."""
    if not body:
        return None
    try:
        return loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


def error_fields(body: Any) -> ErrorFields:
    """Message, type and code from ``{"error": {...}}``, ``{"error": "text"}`` or plain text."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        etype, code, message = err.get("type"), err.get("code"), err.get("message")
        return ErrorFields(
            message=message if isinstance(message, str) else "",
            type=etype if isinstance(etype, str) else None,
            code=code if isinstance(code, str) else None,
        )
    if isinstance(err, str):
        return ErrorFields(message=err, type=None, code=None)
    if isinstance(body, str):
        return ErrorFields(message=body.strip()[:500], type=None, code=None)
    return ErrorFields(message="", type=None, code=None)


def build_error(
    cls: type[ProviderHTTPError],
    *,
    status_code: int,
    headers: Mapping[str, str],
    body: Any,
    fields: ErrorFields,
    code: str | None,
    provider: str,
    model: str | None,
    now: float,
    limit_kind: str | None = None,
) -> ProviderHTTPError:
    """The typed error, with the wait parsed from the headers and a message that says what to do."""
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = retry_after_seconds(
        lowered, rate_limited=cls is RateLimited, now=now, limit_kind=limit_kind
    )
    label = f"HTTP {status_code}" + (f" {code}" if code else "")
    text = fields.message or "no error message"
    hint = _HINTS.get(cls)
    message = f"{label}: {text}" + (f" ({hint})" if hint else "")
    if retry_after is not None:
        message += f"; retry after {retry_after:g}s"
    return cls(
        message,
        status_code=status_code,
        body=body,
        headers=lowered,
        retry_after=retry_after,
        code=code,
        provider=provider,
        model=model,
    )
