"""One decide(), four drivers: sync, async, streamed and async-streamed calls take the same route,
and each attempt is an ``attempt`` span under the call's llm span."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from steadyhand.context import CallContext, OpenSpan
from steadyhand.errors import (
    ContextWindowExceeded,
    DeadlineExceeded,
    ProviderConnectionError,
    ProviderError,
    RateLimited,
    ServerError,
)
from steadyhand.policies import Breaker, Fallback, RateLimit, Resilient, Retry, SharedState
from steadyhand.policies.ratelimit import limit_key
from steadyhand.tracing import SpanRecord
from steadyhand.tracing.context import SpanContext

from ._fakes import REQUEST, Clock, Scripted, resilient

Scenario = Callable[[Clock], Resilient]


class Sink:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


def _retried_then_fallback(clock: Clock) -> Resilient:
    primary = Scripted(
        "p", clock, [RateLimited("x", status_code=429, retry_after=1.5), ServerError("x", status_code=502)]
    )
    backup = Scripted("b", clock, ["from backup"], took=0.3)
    return resilient(clock, primary, backup, fallbacks=["b:m2"], retry=Retry(attempts=2, base=0.5, cap=4.0))


def _context_window(clock: Clock) -> Resilient:
    primary = Scripted("p", clock, [ContextWindowExceeded("long", status_code=400)])
    large = Scripted("l", clock, ["large answer"])
    return resilient(clock, primary, large, fallbacks=[Fallback("l:big", on=["context_window"])])


def _breaker_then_exhausted(clock: Clock) -> Resilient:
    primary = Scripted("p", clock, [ProviderConnectionError("reset")] * 3)
    return resilient(clock, primary, breaker=Breaker(failures=2), retry=Retry(attempts=3, base=0.1, cap=1.0))


def _deadline(clock: Clock) -> Resilient:
    primary = Scripted("p", clock, [ServerError("x", status_code=500)] * 5, took=1.0)
    return resilient(clock, primary, deadline=1.9, retry=Retry(attempts=5, base=0.0, cap=0.0))


def _full(clock: Clock, ago: float) -> SharedState:
    """A state whose rpm-1 window for p:m took a call ``ago`` seconds before the clock's now."""
    state = SharedState()
    caps = RateLimit(rpm=1).caps("production")
    state.reserve(
        limit_key("p", "m"),
        "earlier",
        now=clock.now - ago,
        window=60.0,
        caps=caps,
        need=0,
        traffic="production",
    )
    return state


def _throttled_then_admitted(clock: Clock) -> Resilient:
    primary = Scripted("p", clock, ["after the wait"])
    return resilient(clock, primary, state=_full(clock, 50.0), rate_limit=RateLimit(rpm=1))


def _throttled_to_fallback(clock: Clock) -> Resilient:
    primary = Scripted("p", clock, [])
    backup = Scripted("b", clock, ["from backup"])
    return resilient(
        clock, primary, backup, state=_full(clock, 5.0), fallbacks=["b:m2"], rate_limit=RateLimit(rpm=1)
    )


SCENARIOS: dict[str, Scenario] = {
    "throttled_then_admitted": _throttled_then_admitted,
    "throttled_to_fallback": _throttled_to_fallback,
    "retried_then_fallback": _retried_then_fallback,
    "context_window": _context_window,
    "breaker_then_exhausted": _breaker_then_exhausted,
    "deadline": _deadline,
}


def _run(mode: str, scenario: Scenario) -> tuple[Any, str, list[float], list[SpanRecord]]:
    """Run the scenario on a fresh fake clock under one driver: the route, the text, the waits, spans."""
    clock = Clock()
    policy = scenario(clock)
    sink = Sink()
    span = OpenSpan(SpanContext("t" * 32, "s" * 16), sink)
    call = CallContext(deadline=clock.now + 30.0, span=span)
    text = ""
    try:
        if mode == "sync":
            text = policy.complete(REQUEST, ctx=call).text
        elif mode == "async":
            text = asyncio.run(policy.acomplete(REQUEST, ctx=call)).text
        elif mode == "stream":
            text = "".join(c.text for c in policy.stream(REQUEST, ctx=call))
        else:

            async def collect() -> str:
                return "".join([c.text async for c in policy.astream(REQUEST, ctx=call)])

            text = asyncio.run(collect())
    except ProviderError as error:
        text = f"raised {type(error).__name__}"
    return span.attributes["steadyhand.route"], text, clock.slept, sink.spans


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_driver_takes_the_same_route(name: str) -> None:
    runs = {mode: _run(mode, SCENARIOS[name]) for mode in ("sync", "async", "stream", "astream")}
    route, text, slept, _ = runs["sync"]
    assert route["steps"], name
    for mode, (other_route, other_text, other_slept, _) in runs.items():
        assert other_route == route, mode
        assert other_slept == slept, mode
        assert other_text.strip() == text.strip(), mode


def test_the_scenarios_end_as_designed() -> None:
    route, text, slept, _ = _run("sync", _retried_then_fallback)
    assert text == "from backup" and slept[0] >= 1.5
    assert [s["error"] for s in route["steps"]] == ["RateLimited", "ServerError", None]
    route, text, _, _ = _run("sync", _breaker_then_exhausted)
    assert text == "raised DeadlineExceeded" and [s["outcome"] for s in route["steps"]] == [
        "error",
        "error",
        "skipped",
    ]
    route, text, _, _ = _run("sync", _deadline)
    assert text == "raised DeadlineExceeded" and route["ended_by"] == "deadline" and len(route["steps"]) == 2


def test_the_throttled_scenarios_wait_or_fall_back() -> None:
    route, text, slept, _ = _run("sync", _throttled_then_admitted)
    assert text == "after the wait" and slept == [pytest.approx(10.0)]
    assert [(s["outcome"], s["error"]) for s in route["steps"]] == [("skipped", "RateLimited"), ("ok", None)]
    route, text, slept, _ = _run("sync", _throttled_to_fallback)
    assert text == "from backup" and slept == []
    assert [(s["target"], s["outcome"]) for s in route["steps"]] == [("p:m", "skipped"), ("b:m2", "ok")]


def test_each_attempt_is_a_span_under_the_llm_span() -> None:
    _, _, _, spans = _run("sync", _retried_then_fallback)
    assert [s.kind for s in spans] == ["attempt"] * 3
    assert {s.parent_id for s in spans} == {"s" * 16} and {s.trace_id for s in spans} == {"t" * 32}
    first, second, third = spans
    assert (first.status, first.error_type, first.attributes["http.status_code"]) == (
        "error",
        "RateLimited",
        429,
    )
    assert (third.status, third.provider, third.model, third.error_type) == (
        "ok",
        "p" if False else "b",
        "m2",
        None,
    )
    assert first.end_time is not None
    assert second.attributes["steadyhand.wait"] == pytest.approx(second.start_time - first.end_time)
    assert first.start_time == pytest.approx(5000.0)  # dated by the wall clock, timed by the fake one
    assert third.end_time is not None and third.end_time - third.start_time == pytest.approx(0.3)
    assert all(s.input_tokens is None and s.cost_usd is None for s in spans)  # attempts are not billed


def test_a_stream_that_fails_before_its_first_chunk_fails_over() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [ServerError("x", status_code=503)])
    backup = Scripted("b", clock, ["streamed from backup"])
    policy = resilient(clock, primary, backup, fallbacks=["b:m"], retry=Retry(attempts=1))
    assert (
        "".join(c.text for c in policy.stream(REQUEST, ctx=CallContext())).strip() == "streamed from backup"
    )


def test_deadline_exceeded_names_the_reason() -> None:
    clock = Clock()
    with pytest.raises(DeadlineExceeded) as info:
        _deadline(clock).complete(REQUEST, ctx=CallContext())
    assert info.value.reason == "deadline" and info.value.route.ended_by == "deadline"
