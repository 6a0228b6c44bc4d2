"""Fallback: the ordered targets to try when the primary cannot answer, and which errors send a call on.

Each fallback names a target (an alias or ``provider:model``, resolved through the client) and the
error kinds that may send a call to it (``on``). The kinds, by the error that ended the previous
target's attempts:

=================== ===============================================================================
``any``             every provider error except ``content_filter`` (the default)
``rate_limited``    429 that is not a quota (:class:`~steadyhand.errors.RateLimited`)
``quota``           the account's quota or spend limit (:class:`~steadyhand.errors.QuotaExhausted`)
``overloaded``      the provider is overloaded (529)
``server_error``    5xx and 408/409
``timeout``         connect, first-token, stall or total timeout
``connection``      connection refused or reset, a stream cut before its end
``unexpected``      an answer that is not the provider's format
``auth``            401/403: the key is wrong for that provider
``context_window``  the prompt plus ``max_tokens`` do not fit the model
``content_filter``  the provider's filter refused (only when listed: ``any`` does not include it)
``prefill``         the model does not accept a final assistant message
``not_found``       the provider does not know the model
``bad_request``     any other 4xx the caller must fix
``circuit_open``    the previous target's breaker is open (it was skipped without a request)
=================== ===============================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import (
    AuthenticationFailed,
    CircuitOpen,
    ConfigurationError,
    ContentFiltered,
    ContextWindowExceeded,
    ModelNotFound,
    Overloaded,
    PrefillNotSupported,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    ServerError,
    StreamInterrupted,
    UnexpectedProviderResponse,
)

__all__ = ["KINDS", "Fallback", "error_kind"]

# Most specific class first: ContextWindowExceeded is also a BadRequest, QuotaExhausted maybe a 429.
_KIND_OF: tuple[tuple[type[ProviderError], str], ...] = (
    (CircuitOpen, "circuit_open"),
    (QuotaExhausted, "quota"),
    (RateLimited, "rate_limited"),
    (Overloaded, "overloaded"),
    (ContextWindowExceeded, "context_window"),
    (ContentFiltered, "content_filter"),
    (PrefillNotSupported, "prefill"),
    (ModelNotFound, "not_found"),
    (AuthenticationFailed, "auth"),
    (ServerError, "server_error"),
    (ProviderTimeout, "timeout"),
    (ProviderConnectionError, "connection"),
    (StreamInterrupted, "connection"),
    (UnexpectedProviderResponse, "unexpected"),
)

KINDS = frozenset({"any", "bad_request", *(kind for _, kind in _KIND_OF)})
"""Every name ``on`` accepts."""

_NOT_IN_ANY = frozenset({"content_filter"})


def error_kind(error: ProviderError) -> str:
    """The kind name of ``error`` (see the module's table)."""
    for cls, kind in _KIND_OF:
        if isinstance(error, cls):
            return kind
    if isinstance(error, ProviderHTTPError):
        return "server_error" if error.status_code >= 500 else "bad_request"
    return "unexpected"


@dataclass(frozen=True, slots=True)
class Fallback:
    """A target to try next, and the error kinds that may send a call to it."""

    target: str
    on: frozenset[str] = frozenset({"any"})

    def __init__(self, target: str, on: Iterable[str] = ("any",)) -> None:
        if isinstance(on, str):
            on = (on,)
        kinds = frozenset(on)
        unknown = sorted(kinds - KINDS)
        if unknown or not kinds:
            raise ConfigurationError(
                f"fallback {target!r}: unknown error kind(s) {unknown or '(none given)'} in `on`; "
                f"use some of {', '.join(sorted(KINDS))}"
            )
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "on", kinds)

    def takes(self, error: ProviderError) -> bool:
        """Whether a call that ended with ``error`` on the previous target may come here."""
        kind = error_kind(error)
        return kind in self.on or ("any" in self.on and kind not in _NOT_IN_ANY)
