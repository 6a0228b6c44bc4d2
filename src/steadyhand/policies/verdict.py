"""How a call's decision is recorded: the route's last fields, the attempt spans, the ending error.

The helpers of :class:`~steadyhand.policies.Resilient`'s ``decide`` (and its fast path) that do not
decide anything: they write down what was decided, so both paths record a call alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..context import CallContext, OpenSpan
from ..errors import CircuitOpen, DeadlineExceeded, ProviderError, ProviderTimeout, RateLimited
from .retry import should_retry
from .route import EndedBy, Route, Step

if TYPE_CHECKING:
    from .._config import Target
    from .driver import Outcome

__all__ = ["EPSILON", "attempt_span", "finish", "give_up"]

EPSILON = 1e-9
"""Float slack: a wait cut to fit exactly must still leave room for its attempt."""


def finish(
    route: Route, ctx: CallContext, ended_by: EndedBy, now: float, clock: float, deadline: float | None
) -> None:
    """Close ``route`` (how it ended, the deadline left, steadyhand's own overhead) and hand it over."""
    route.ended_by = ended_by
    route.deadline_left = None if deadline is None else deadline - clock
    spent = 0.0
    for step in route.steps:
        spent += step.wait + step.duration
    overhead = clock - now - spent
    route.overhead = overhead if overhead > 0.0 else 0.0
    if ctx.span is not None:  # built only for a traced call
        ctx.span.note("steadyhand.route", route.as_dict())
    if ctx.report is not None:
        ctx.report.route = route


def attempt_span(span: OpenSpan, step: Step, outcome: Outcome, number: int, wall_offset: float) -> None:
    """The attempt's own span under the llm span; never billed (no usage on it)."""
    provider, _, model = step.target.partition(":")
    record = span.child(
        f"attempt {number}",
        start_time=outcome.started + wall_offset,
        end_time=outcome.ended + wall_offset,
        model_alias=step.alias,
        provider=provider,
        model=model,
    )
    record.attributes = {"steadyhand.attempt": number, "steadyhand.wait": step.wait}
    if step.breaker is not None:
        record.attributes["steadyhand.breaker"] = step.breaker
    if outcome.error is not None:
        record.status = "error"
        record.error_type = step.error
        record.error_message = str(outcome.error)
        if step.status is not None:
            record.attributes["http.status_code"] = step.status
    span.emit(record)


def throttled(error: BaseException | None) -> bool:
    """A refusal by steadyhand's own rate limit: nothing was sent."""
    return isinstance(error, RateLimited) and error.local


def give_up(
    route: Route,
    ctx: CallContext,
    last: ProviderError | None,
    cut_by_deadline: bool,
    now: float,
    clock: float,
    deadline: float | None,
    min_attempt: float,
    target: Target,
) -> ProviderError:
    """The error that ends the call: the provider's own when the request itself was refused."""
    out_of_time = cut_by_deadline or (deadline is not None and deadline - clock < min_attempt - EPSILON)
    if throttled(last):  # the last target could not be admitted in time: say so, with the wait
        assert last is not None
        finish(route, ctx, "deadline" if out_of_time else "options", now, clock, deadline)
        last.route = route
        return last
    refused = last is not None and not (should_retry(last) or isinstance(last, CircuitOpen | ProviderTimeout))
    if refused and not out_of_time:
        assert last is not None
        finish(route, ctx, "error", now, clock, deadline)
        last.route = route
        return last
    reason: EndedBy = "deadline" if out_of_time else "options"
    finish(route, ctx, reason, now, clock, deadline)
    why = (
        "the deadline left no time for another attempt; give the call more time (timeout= on the "
        "call or the alias's deadline) or add a faster fallback"
        if reason == "deadline"
        else "every target, retry and fallback failed; add a fallback target or check the provider's status"
    )
    return DeadlineExceeded(
        f"no answer: {why} (route: {route.summary()})",
        reason=reason,
        route=route,
        last_error=last,
        provider=target.provider,
        model=target.model,
    )
