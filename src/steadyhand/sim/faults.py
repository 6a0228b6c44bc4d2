"""The model-name behaviour table (``sim-429`` ...) and what each error fault looks like per provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .scenario import Fault, Respond, Rule

Provider = Literal["openai", "anthropic"]
CONTEXT_LIMIT = 128_000
NO_PREFILL = (
    "This model does not support assistant message prefill. The conversation must end with a user message."
)
STREAM_ONLY = frozenset({"malformed-sse", "no-done", "error-in-stream"})
ERROR_KINDS = frozenset(
    {
        "429",
        "quota",
        "500",
        "502",
        "503",
        "529",
        "overloaded",
        "context-length",
        "content-filter",
        "content-filter-prompt",
        "no-prefill",
    }
)
RATE_KINDS = frozenset({"429", "quota"})
"""Faults refused as 429: their rate-limit headers say nothing remains."""

BUILTIN: dict[str, Rule] = {
    "sim-basic": Rule(name="sim-basic"),
    "sim-echo": Rule(name="sim-echo", respond=Respond(template="{{ last_user }}")),
    "sim-tool-call": Rule(name="sim-tool-call", respond=Respond(tool_calls="auto")),
    "sim-429-no-retry-after": Rule(
        name="sim-429-no-retry-after", faults=[Fault(kind="429", retry_after=None)]
    ),
    "sim-529-in-stream": Rule(
        name="sim-529-in-stream", faults=[Fault(kind="error-in-stream", after_chunks=0)]
    ),
    "sim-quota": Rule(name="sim-quota", faults=[Fault(kind="quota", retry_after=None)]),
    "sim-context-length": Rule(
        name="sim-context-length", faults=[Fault(kind="context-length", retry_after=None)]
    ),
}
for _kind in ("content-filter", "content-filter-prompt", "content-filter-finish"):
    BUILTIN[f"sim-{_kind}"] = Rule(name=f"sim-{_kind}", faults=[Fault(kind=_kind, retry_after=None)])
for _kind in (
    "429", "500", "502", "503", "529", "overloaded", "reset", "hang", "slow-first-token", "stall", "cut",
    "malformed-sse", "no-done", "no-prefill", "json-prose", "json-fenced", "json-trailing-comma",
    "json-truncated", "json-wrong-types",
):  # fmt: skip
    BUILTIN.setdefault(f"sim-{_kind}", Rule(name=f"sim-{_kind}", faults=[Fault(kind=_kind)]))
del _kind


def builtin_rule(model: str) -> Rule | None:
    """The rule a ``sim-*`` model name selects; ``sim-500:primary`` behaves like ``sim-500``."""
    return BUILTIN.get(model.split(":", 1)[0])


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """One error answer in a provider's own vocabulary."""

    status: int
    type: str
    message: str
    code: str | None = None
    param: str | None = None
    error_code: str | None = None
    """Anthropic ``error.details.error_code``."""


def error_for(kind: str, *, provider: Provider, model: str, prompt_tokens: int) -> ErrorSpec:
    """The status and body fields a real provider sends for fault ``kind``."""
    return _anthropic(kind, prompt_tokens) if provider == "anthropic" else _openai(kind, model, prompt_tokens)


def _openai(kind: str, model: str, prompt_tokens: int) -> ErrorSpec:
    if kind == "429":
        message = (
            f"Rate limit reached for {model} in organization org-steadyhand-sim on requests per min (RPM): "
            "Limit 3, Used 3, Requested 1. Please try again in 1s. "
            "Visit https://platform.openai.com/account/rate-limits to learn more."
        )
        return ErrorSpec(429, "requests", message, "rate_limit_exceeded")
    if kind == "quota":
        message = "You exceeded your current quota, please check your plan and billing details."
        return ErrorSpec(429, "insufficient_quota", message, "insufficient_quota")
    if kind == "context-length":
        message = (
            f"This model's maximum context length is {CONTEXT_LIMIT} tokens. However, your messages resulted "
            f"in {max(prompt_tokens, CONTEXT_LIMIT + 1)} tokens. Please reduce the length of the messages."
        )
        return ErrorSpec(400, "invalid_request_error", message, "context_length_exceeded", "messages")
    if kind == "content-filter":
        message = (
            "Your request was rejected as a result of our safety system. "
            "Your prompt may contain text that is not allowed by our safety system."
        )
        return ErrorSpec(400, "invalid_request_error", message, "content_policy_violation")
    if kind == "content-filter-prompt":
        message = (
            "Invalid prompt: your prompt was flagged as potentially violating our usage policy. Please try "
            "again with a different prompt: https://platform.openai.com/docs/guides/reasoning#advice-on-prompting"
        )
        return ErrorSpec(400, "invalid_request_error", message, "invalid_prompt")
    if kind == "no-prefill":
        message = NO_PREFILL
        return ErrorSpec(400, "invalid_request_error", message, None, "messages")
    if kind in ("503", "overloaded"):
        return ErrorSpec(
            503,
            "server_error",
            "The engine is currently overloaded, please try again later",
            "server_is_overloaded",
        )
    if kind == "529":
        return ErrorSpec(
            529, "server_error", "The server is overloaded, please try again later.", "server_is_overloaded"
        )
    if kind == "502":
        return ErrorSpec(502, "server_error", "Bad gateway.", None)
    return ErrorSpec(
        500, "server_error", "The server had an error while processing your request. Sorry about that!"
    )


def _anthropic(kind: str, prompt_tokens: int) -> ErrorSpec:
    if kind == "429":
        message = "Number of request tokens has exceeded your per-minute rate limit; please retry later."
        return ErrorSpec(429, "rate_limit_error", message)
    if kind == "quota":
        message = "You have reached your specified API usage limits. You will regain access later."
        return ErrorSpec(429, "rate_limit_error", message, error_code="enforced_spend_limit_reached")
    if kind == "context-length":
        message = f"prompt is too long: {max(prompt_tokens, 200_001)} tokens > 200000 maximum"
        return ErrorSpec(400, "invalid_request_error", message)
    if kind in ("content-filter", "content-filter-prompt"):
        return ErrorSpec(400, "invalid_request_error", "Output blocked by content filtering policy")
    if kind == "no-prefill":
        message = NO_PREFILL
        return ErrorSpec(400, "invalid_request_error", message)
    if kind in ("529", "overloaded"):
        return ErrorSpec(529, "overloaded_error", "Overloaded")
    if kind in ("502", "503"):
        return ErrorSpec(int(kind), "api_error", "Service unavailable")
    return ErrorSpec(500, "api_error", "Internal server error")
