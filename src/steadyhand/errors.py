"""The one exception hierarchy.

::

    SteadyhandError
    ├─ ConfigurationError (also ValueError)   a user mistake, raised early; says how to fix it
    │  ├─ InvalidRequest                      a wrong argument or body: .param .code .status_code
    │  └─ PromptError                         a prompt file, name or version is wrong: .prompt
    │     └─ PromptRenderError                a variable is missing, mistyped or undeclared: .variable
    ├─ ProviderError                          .provider .model
    │  ├─ ProviderConnectionError             connection refused or reset before an answer
    │  ├─ ProviderTimeout                     connect, first-token, stall or total deadline
    │  ├─ StreamInterrupted                   a stream ended before the provider said it was done
    │  ├─ UnexpectedProviderResponse          a body or event that is not the provider's format
    │  ├─ DeadlineExceeded                    the policies ran out of time or options: .reason .route
    │  ├─ CircuitOpen                         a target's breaker is open: skipped without a request
    │  └─ ProviderHTTPError                   .status_code .body .headers .retry_after .code
    │     ├─ RateLimited                      retry after .retry_after; .local: steadyhand's own limit
    │     ├─ QuotaExhausted                   billing/spend limit: never retryable
    │     ├─ Overloaded                       Anthropic 529, OpenAI server_is_overloaded
    │     ├─ ServerError                      5xx
    │     ├─ AuthenticationFailed             401/403
    │     └─ BadRequest                       4xx the caller must fix
    │        ├─ ContextWindowExceeded
    │        ├─ ContentFiltered
    │        ├─ PrefillNotSupported
    │        └─ ModelNotFound
    ├─ StoreError
    │  └─ StoreRejected                   the store refused these records (writing them again fails too)
    └─ OutputError                        a model's answer is not the structured value asked for
       ├─ OutputParseError (also ValueError)  text no cleanup reads as the value: .outcome .repairs .errors
       └─ StructuredOutputError           every re-ask failed: .attempts .last_output .reason

``retryable`` on every provider error says whether sending the same request again may succeed.
Every error pickles with its fields (process pools in evals send them between processes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthenticationFailed",
    "BadRequest",
    "CircuitOpen",
    "ConfigurationError",
    "ContentFiltered",
    "ContextWindowExceeded",
    "DeadlineExceeded",
    "InvalidRequest",
    "ModelNotFound",
    "OutputError",
    "OutputParseError",
    "Overloaded",
    "PrefillNotSupported",
    "PromptError",
    "PromptRenderError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderTimeout",
    "QuotaExhausted",
    "RateLimited",
    "ServerError",
    "SteadyhandError",
    "StoreError",
    "StoreRejected",
    "StreamInterrupted",
    "StructuredOutputError",
    "UnexpectedProviderResponse",
]


class SteadyhandError(Exception):
    """Base of every error steadyhand raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception pickles as cls(*args), which loses keyword-only fields: rebuild bare, restore state.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[SteadyhandError], args: tuple[Any, ...], state: dict[str, Any]) -> SteadyhandError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigurationError(SteadyhandError, ValueError):
    """The configuration or a call's arguments are wrong; the message says what to change."""


class InvalidRequest(ConfigurationError):
    """A request argument is wrong (a type, a range, a role); ``param`` names it, the message the fix.

    Raised before anything is sent, so it never costs a provider call. The inbound codecs raise it
    for a request body sent *to* steadyhand (the gateway, the simulator) that the real API would
    refuse: the message is then in that API's own wording, ``param`` in its notation
    (``messages[0].role``, ``messages.0.role``), ``code`` OpenAI's machine-readable code, and each
    format's encoder turns it into the 400 (or 413, ``status_code``) body that API sends.
    """

    def __init__(
        self, message: str, *, param: str | None = None, code: str | None = None, status_code: int = 400
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status_code = status_code


class PromptError(ConfigurationError):
    """A prompt file is invalid, or a prompt, version or label cannot be found; ``prompt`` names it."""

    def __init__(self, message: str, *, prompt: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.prompt = prompt


class PromptRenderError(PromptError):
    """Rendering refused the variables: ``variable`` is the one missing, mistyped or not declared.

    Raised before anything is sent, so a bad input never costs a provider call.
    """

    def __init__(self, message: str, *, prompt: str | None = None, variable: str | None = None) -> None:
        super().__init__(message, prompt=prompt)
        self.variable = variable


class StoreError(SteadyhandError):
    """The trace store cannot be reached or used."""


class StoreRejected(StoreError):
    """The store is up but refused the records themselves: the tracer puts them aside, never retries."""


class ProviderError(SteadyhandError):
    """A model provider did not give a usable answer."""

    retryable: bool = False
    route: Any = None
    """The policies' decision record (:class:`steadyhand.policies.Route`) when they ended the call."""

    def __init__(self, message: str, *, provider: str | None = None, model: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model

    def __str__(self) -> str:
        where = ":".join(p for p in (self.provider, self.model) if p)
        return f"{self.message} [{where}]" if where else self.message


class ProviderConnectionError(ProviderError):
    """The connection failed or was reset before a complete answer arrived."""

    retryable = True


class ProviderTimeout(ProviderError):
    """A time limit was hit: ``phase`` is ``connect``, ``first_token``, ``stall`` or ``total``."""

    retryable = True

    def __init__(
        self, message: str, *, phase: str, provider: str | None = None, model: str | None = None
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.phase = phase


class StreamInterrupted(ProviderError):
    """The stream stopped before the provider marked it finished; ``partial_text`` is what came."""

    retryable = True

    def __init__(
        self, message: str, *, partial_text: str = "", provider: str | None = None, model: str | None = None
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.partial_text = partial_text


class UnexpectedProviderResponse(ProviderError):
    """The provider answered with something that is not its documented format."""

    retryable = True


class DeadlineExceeded(ProviderError):
    """The policies ended the call: ``reason`` is ``deadline`` (no time left for another attempt or
    wait) or ``options`` (every target, retry and fallback was used). ``route`` is the decision record
    (:class:`steadyhand.policies.Route`); ``last_error`` the error of the last attempt, if any.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        route: Any = None,
        last_error: BaseException | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.reason = reason
        self.route = route
        self.last_error = last_error


class CircuitOpen(ProviderError):
    """The target's circuit breaker is open after repeated failures: it was skipped without a request.

    Configure a fallback (or a degraded answer) so calls do not fail while it cools down.
    """

    retryable = False

    def __init__(
        self, message: str, *, retry_in: float, provider: str | None = None, model: str | None = None
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.retry_in = retry_in


class ProviderHTTPError(ProviderError):
    """The provider answered with an error status (or an in-band stream error)."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.status_code = status_code
        self.body = body
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.retry_after = retry_after
        self.code = code


class RateLimited(ProviderHTTPError):
    """Too many requests or tokens per minute; wait ``retry_after`` seconds.

    ``local`` is True when steadyhand's own rate limit refused the call before anything was sent (the
    alias's ``rate_limit``), False for a 429 from the provider: a local refusal never counts against
    a target's health.
    """

    retryable = True
    local: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        local: bool = False,
    ) -> None:
        super().__init__(
            message, status_code=status_code, body=body, headers=headers, retry_after=retry_after,
            code=code, provider=provider, model=model,
        )  # fmt: skip
        self.local = local


class QuotaExhausted(ProviderHTTPError):
    """The account's quota or spend limit is used up: retrying cannot help, top up or switch provider."""


class Overloaded(ProviderHTTPError):
    """The provider is overloaded for everyone (Anthropic 529); try later or fall back."""

    retryable = True


class ServerError(ProviderHTTPError):
    """The provider failed (5xx)."""

    retryable = True


class AuthenticationFailed(ProviderHTTPError):
    """The API key is missing, wrong or lacks permission; fix the provider's key."""


class BadRequest(ProviderHTTPError):
    """The provider rejected the request itself; sending it again will not help."""


class ContextWindowExceeded(BadRequest):
    """The prompt plus max_tokens exceed the model's context window; shorten the input."""


class ContentFiltered(BadRequest):
    """The provider's content filter refused the prompt or the answer."""


class PrefillNotSupported(BadRequest):
    """The model does not accept a final assistant message as a prefill."""


class ModelNotFound(BadRequest):
    """The provider does not know the model name; check the alias's pinned model."""


class OutputError(SteadyhandError):
    """A model answered, but not with the structured value that was asked for."""


class OutputParseError(OutputError, ValueError):
    """``steadyhand.structured.loads`` could not read the text as the value (see docs/structured.md).

    ``outcome`` is ``failed``, ``truncated`` or ``repaired_ambiguous`` (not accepted); ``repairs`` the
    cleanup steps that fired; ``errors`` what was wrong (parse position or validation errors); ``text``
    the text given.
    """

    def __init__(
        self,
        message: str,
        *,
        outcome: str = "failed",
        text: str = "",
        errors: tuple[str, ...] = (),
        repairs: tuple[Any, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.outcome = outcome
        self.text = text
        self.errors = errors
        self.repairs = repairs


class StructuredOutputError(OutputError):
    """``client.structured`` gave up: ``reason`` is ``reasks`` (all used), ``same_error`` (the model
    made the same mistake twice), ``budget``, ``deadline`` (``timeout`` ran out) or ``samples`` (no
    usable sample of ``n``); ``attempts`` each model output with its errors, usage
    and cost; ``last_output`` the last raw text. Raise ``max_reasks``, loosen ``accept`` or fix the prompt.
    """

    def __init__(
        self, message: str, *, reason: str = "reasks", attempts: tuple[Any, ...] = (), last_output: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.attempts = attempts
        self.last_output = last_output
