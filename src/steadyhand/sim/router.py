"""Routes a parsed request to its provider handler and turns decisions into actions (no I/O)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

from ..types import ModelRequest
from . import anthropic_wire, http, openai_wire
from .actions import Action, Hang, Plain, Reset, Stream
from .answers import OUTPUT_FAULTS
from .engine import Decision, Engine
from .faults import BUILTIN, ERROR_KINDS, RATE_KINDS, ErrorSpec, Provider, builtin_rule, error_for
from .ratelimit import UNLIMITED, RateSnapshot
from .scenario import Fault, Scenario

Body = Any  # parsed JSON, None when absent, or Unparsed


class Unparsed:
    """A body the server could not (or would not) parse: the codec re-reads it to word the error."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


def tool_specs(request: ModelRequest) -> tuple[tuple[str, Any], ...]:
    """The (name, JSON schema) of each tool a decoded request offers, whatever its wire."""
    return tuple((t.name, t.parameters) for t in request.tools or ())


def wire_body(body: Body) -> Any:
    """What the inbound codecs decode: the raw bytes of an unparsed or absent body, else the JSON."""
    if isinstance(body, Unparsed):
        return body.raw
    return b"" if body is None else body


MODELS = [
    "sim-basic",
    "sim-echo",
    "sim-tool-call",
    "gpt-4o",
    "gpt-4o-2024-08-06",
    "gpt-4o-mini",
    "gpt-4o-mini-2024-07-18",
    "gpt-3.5-turbo-instruct",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku-20241022",
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5-20250929",
    *sorted(set(BUILTIN) - {"sim-basic", "sim-echo", "sim-tool-call"}),
]
"""What ``GET /v1/models`` lists: common real names, then every ``sim-*`` behaviour."""
MAX_PROMPT_TOKENS = 1_048_576
"""Longer prompts get the context-length error: past every real context window, and it bounds the work
(and memory) an echo of a huge prompt could take."""


class Router:
    """Owns the engine and the id counter; the provider modules build the bodies.

    Heavy requests are handled on worker threads, so the engine and the counter sit behind a lock.
    """

    def __init__(self, scenario: Scenario, *, seed: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.scenario = scenario
        self.seed = seed
        self.clock = clock
        self.engine = Engine(scenario, seed=seed, started=clock())
        self._serial = 0
        self._lock = threading.Lock()
        self.created = int(time.time())

    def next_id(self) -> str:
        """A unique, seed-tagged hex id for request ids and object ids."""
        with self._lock:
            self._serial += 1
            serial = self._serial
        return f"{self.seed & 0xFFFF:04x}{serial:020x}"

    def knows(self, model: str) -> bool:
        """Whether ``GET /v1/models/{model}`` finds it: a listed name, a ``sim-*`` behaviour (``:suffix``
        allowed) or a model a scenario rule names. Requests to other names are still answered."""
        if model in MODELS or builtin_rule(model) is not None:
            return True
        patterns = (r.match.model for r in self.scenario.rules)
        return any(p is not None and fnmatchcase(model, p) for p in patterns)

    def route(self, method: str, path: str, headers: dict[str, str], body: Body, query: str = "") -> Action:
        """Dispatch by path; unknown paths get a 404 in the provider's error shape."""
        from . import anthropic_handlers, openai_handlers, responses_handlers  # they import this module

        path, _, rest = path.partition("?")
        path, query = path.rstrip("/"), query or rest
        if method == "POST":
            if path == "/v1/chat/completions":
                return openai_handlers.chat(self, body)
            if path == "/v1/completions":
                return openai_handlers.completions(self, body)
            if path == "/v1/responses":
                return responses_handlers.responses(self, body)
            if path == "/v1/embeddings":
                return openai_handlers.embeddings(self, body)
            if path == "/v1/messages":
                return anthropic_handlers.messages(self, body)
            if path == "/v1/messages/count_tokens":
                return anthropic_handlers.count_tokens(self, body)
        if method == "GET" and (path == "/v1/models" or path.startswith("/v1/models/")):
            name = path[len("/v1/models/") :] if path.startswith("/v1/models/") else None
            if "anthropic-version" in headers:
                return anthropic_handlers.models(self, name, query)
            return openai_handlers.models(self, name)
        provider: Provider = (
            "anthropic" if path.startswith("/v1/messages") or "anthropic-version" in headers else "openai"
        )
        message = f"Invalid URL ({method} {path})" if provider == "openai" else f"Not found: {method} {path}"
        kind = "invalid_request_error" if provider == "openai" else "not_found_error"
        return self.error(provider, ErrorSpec(404, kind, message))

    def decide(
        self,
        *,
        model: str,
        last_user: str,
        last_role: str | None,
        prompt_tokens: int,
        stream: bool,
        tool_results: tuple[str, ...] = (),
    ) -> Decision:
        """Ask the engine, stamping the current time."""
        with self._lock:
            return self.engine.decide(
                model=model,
                last_user=last_user,
                last_role=last_role,
                prompt_tokens=prompt_tokens,
                stream=stream,
                now=self.clock(),
                tool_results=tool_results,
            )

    def error(
        self,
        provider: Provider,
        spec: ErrorSpec,
        *,
        limits: RateSnapshot = UNLIMITED,
        retry_after: float | None = None,
        delay: float = 0.0,
    ) -> Plain:
        """An error response with the provider's body, request id and rate-limit headers."""
        rid = "req_" + self.next_id()
        if provider == "anthropic":
            doc = anthropic_wire.error_body(
                spec.message, type=spec.type, request_id=rid, error_code=spec.error_code
            )
            hdrs = anthropic_wire.headers(request_id=rid, limits=limits) + anthropic_wire.retry_headers(
                retry_after
            )
        else:
            doc = openai_wire.error_body(spec.message, type=spec.type, param=spec.param, code=spec.code)
            hdrs = openai_wire.headers(request_id=rid, processing_ms=int(delay * 1000), limits=limits)
            hdrs += openai_wire.retry_headers(retry_after)
        return Plain(
            http.response(spec.status, [("content-type", http.JSON_TYPE), *hdrs], http.json_body(doc)), delay
        )

    def too_long(self, provider: Provider, model: str, prompt_tokens: int) -> Plain | None:
        """The context-length error for a prompt over ``MAX_PROMPT_TOKENS``, else None."""
        if prompt_tokens <= MAX_PROMPT_TOKENS:
            return None
        return self.error(
            provider, error_for("context-length", provider=provider, model=model, prompt_tokens=prompt_tokens)
        )

    def rate_limited(self, provider: Provider, model: str, limits: RateSnapshot) -> Plain:
        """The 429 of the real sliding-window limiter, with an accurate retry-after."""
        wait = limits.retry_after or 0.0
        if provider == "anthropic":
            spec = ErrorSpec(
                429, "rate_limit_error", f"This request would exceed your rate limit for {model}."
            )
        else:
            per = "requests per min (RPM)" if limits.exceeded == "requests" else "tokens per min (TPM)"
            limit = limits.limit_requests if limits.exceeded == "requests" else limits.limit_tokens
            message = (
                f"Rate limit reached for {model} in organization org-steadyhand-sim on {per}: Limit {limit}. "
                f"Please try again in {wait:.3f}s."
            )
            spec = ErrorSpec(429, limits.exceeded or "requests", message, "rate_limit_exceeded")
        return self.error(provider, spec, limits=limits, retry_after=wait)


def fault_action(
    router: Router, provider: Provider, decision: Decision, model: str, prompt_tokens: int
) -> Action | None:
    """The action for a refused request (rate limit, error fault, reset, hang), or None to answer."""
    if decision.limits.retry_after is not None:
        return router.rate_limited(provider, model, decision.limits)
    fault = decision.fault
    if fault is None:
        return None
    if fault.kind == "reset":
        return Reset()
    if fault.kind == "hang":
        return Hang()
    if fault.kind in ERROR_KINDS:
        spec = error_for(fault.kind, provider=provider, model=model, prompt_tokens=prompt_tokens)
        retry = fault.retry_after if spec.status in (429, 500, 502, 503, 529) else None
        limits = decision.limits
        if fault.kind in RATE_KINDS:  # the headers agree with the refusal: nothing remains
            reset = retry if retry is not None else limits.reset_requests
            limits = replace(
                limits, remaining_requests=0, remaining_tokens=0, reset_requests=reset, reset_tokens=reset
            )
        return router.error(provider, spec, limits=limits, retry_after=retry)
    return None


def output_fault(decision: Decision) -> str | None:
    """The fault kind when it changes the answer text rather than the transport."""
    fault = decision.fault
    return fault.kind if fault is not None and fault.kind in OUTPUT_FAULTS else None


def timing(decision: Decision, tokens: int) -> tuple[float, float]:
    """(time to first token, delay per token) for this decision."""
    ttft = decision.latency.ttft
    if decision.fault is not None and decision.fault.kind == "slow-first-token":
        ttft = max(ttft, decision.fault.delay)
    return ttft, decision.latency.per_token


def plain_answer(data: bytes, head_len: int, decision: Decision, tokens: int) -> Plain:
    """A non-streamed answer, cut or stalled halfway through the body when the fault says so."""
    ttft, per_token = timing(decision, tokens)
    delay = ttft + per_token * tokens
    kind = decision.fault.kind if decision.fault is not None else None
    if kind in ("stall", "cut"):
        partial = data[: head_len + (len(data) - head_len) // 2]
        return Plain(partial, delay, "hang" if kind == "stall" else "close")
    return Plain(data, delay)


def stream_answer(
    head: bytes,
    events: list[bytes],
    *,
    decision: Decision,
    preamble: int,
    done: bytes | None,
    error_event: bytes,
    broken_event: bytes,
) -> Stream:
    """Frame SSE events as HTTP chunks, applying the stream faults after ``preamble`` events."""
    fault: Fault | None = decision.fault
    kind = fault.kind if fault is not None else None
    ttft, gap = timing(decision, len(events))
    cut_at = preamble + (fault.after_chunks if fault is not None else 0)
    end: Any = "finish"
    if kind in ("stall", "cut"):
        events, end = events[:cut_at], kind
    elif kind == "error-in-stream":
        events = [*events[:cut_at], error_event]
    else:
        if kind == "malformed-sse":
            events = [*events[:cut_at], broken_event, *events[cut_at:]]
        if done is not None and kind != "no-done":
            events = [*events, done]
    framed = [http.chunk(e) for e in events]
    if not gap:  # written in one go: join here, on the worker thread for heavy answers, not on the loop
        framed = [b"".join(framed)]
    return Stream(head, framed, ttft, gap, end)
