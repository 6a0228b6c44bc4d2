"""Rate limits and balanced targets inside the resilient policy, on a fake clock: a throttled call
waits (visibly, in the route) or falls back or fails with the local ``RateLimited``; an alias's
targets share the calls by weight or by calls in flight, skip an open breaker or a full limit."""

from __future__ import annotations

from collections import Counter

import pytest

from steadyhand import CallContext, RateLimited, ServerError
from steadyhand.policies import Attempt, Breaker, Outcome, RateLimit, Retry, SharedState

from ._fakes import REQUEST, Clock, Scripted, ctx, resilient


def test_a_throttled_call_waits_for_room_and_the_route_shows_it() -> None:
    clock = Clock()
    primary = Scripted("p", clock, ["one", "two"], took=0.5)
    policy = resilient(clock, primary, rate_limit=RateLimit(rpm=1), breaker=Breaker(failures=1))
    policy.complete(REQUEST, ctx=ctx(clock, 100))
    response = policy.complete(REQUEST, ctx=ctx(clock, 100))
    assert response.text == "two" and clock.slept == [pytest.approx(59.5)]
    steps = response.route.steps
    assert [(s.outcome, s.error) for s in steps] == [("skipped", "RateLimited"), ("ok", None)]
    assert steps[1].wait == pytest.approx(59.5) and len(response.route.attempts) == 1
    breaker = policy._breaker(policy.info.target)
    assert breaker is not None and breaker.state(clock.now) == "closed"  # a throttle is not a failure


def test_a_wait_beyond_the_deadline_fails_with_the_local_rate_limited_and_its_route() -> None:
    clock = Clock()
    primary = Scripted("p", clock, ["one"], took=0.5)
    policy = resilient(clock, primary, rate_limit=RateLimit(rpm=1))
    policy.complete(REQUEST, ctx=ctx(clock, 100))
    with pytest.raises(RateLimited) as info:
        policy.complete(REQUEST, ctx=ctx(clock, 10))
    error = info.value
    assert error.local and error.retry_after == pytest.approx(59.5) and clock.slept == []
    assert [s.outcome for s in error.route.steps] == ["skipped"] and error.route.ended_by == "deadline"
    assert len(primary.calls) == 1


def test_a_throttled_primary_falls_back_at_once_when_its_wait_does_not_fit() -> None:
    clock = Clock()
    primary = Scripted("p", clock, ["one"], took=0.5)
    backup = Scripted("b", clock, ["from backup"])
    policy = resilient(clock, primary, backup, fallbacks=["b:m2"], rate_limit=RateLimit(rpm=1))
    policy.complete(REQUEST, ctx=ctx(clock, 100))
    response = policy.complete(REQUEST, ctx=ctx(clock, 10))
    assert response.text == "from backup" and clock.slept == []
    assert [(s.target, s.outcome) for s in response.route.steps] == [("p:m", "skipped"), ("b:m2", "ok")]


def test_traffic_classes_draw_on_their_own_share_through_the_policy() -> None:
    clock = Clock()
    primary = Scripted("p", clock, ["ok"] * 10, took=0.0)
    policy = resilient(clock, primary, rate_limit=RateLimit(rpm=10, shares={"test": 0.2}))
    for _ in range(2):
        policy.complete(REQUEST, ctx=ctx(clock, 1, traffic="test"))
    with pytest.raises(RateLimited):
        policy.complete(REQUEST, ctx=ctx(clock, 1, traffic="test"))
    for _ in range(8):
        policy.complete(REQUEST, ctx=ctx(clock, 1))
    assert len(primary.calls) == 10


# -- balanced targets ---------------------------------------------------------------------------------


def test_weighted_targets_share_the_calls_by_weight() -> None:
    clock = Clock()
    p, q = Scripted("p", clock, ["p"] * 400, took=0.0), Scripted("q", clock, ["q"] * 400, took=0.0)
    policy = resilient(clock, p, q, targets=[("p:m", 1.0), ("q:m", 3.0)])
    seen = Counter(policy.complete(REQUEST, ctx=CallContext()).text for _ in range(400))
    assert 70 <= seen["p"] <= 130 and seen["p"] + seen["q"] == 400  # 100 expected (seeded: repeatable)
    assert {c.model for c in q.calls} == {"m"}


def test_least_busy_sends_the_next_call_to_the_idle_target() -> None:
    clock = Clock()
    p, q = Scripted("p", clock, ["p"], took=0.0), Scripted("q", clock, ["q"], took=0.0)
    policy = resilient(clock, p, q, targets=["p:m", "q:m"], balance="least_busy")
    first = policy.decide(REQUEST, CallContext(), now=clock.now)
    second = policy.decide(REQUEST, CallContext(), now=clock.now)
    a, b = next(first), next(second)  # both in flight at once
    assert {a.provider.name, b.provider.name} == {"p", "q"}
    outcome = Outcome(a, clock.now, clock.now, response=a.provider.complete(a.request, ctx=a.ctx))
    with pytest.raises(StopIteration):
        first.send(outcome)
    third = policy.decide(REQUEST, CallContext(), now=clock.now)
    c = next(third)  # b is still in flight: the third call goes where a went
    assert isinstance(c, Attempt) and c.provider.name == a.provider.name
    second.close()
    third.close()


def test_a_retry_prefers_another_target_of_the_alias() -> None:
    clock = Clock()
    p = Scripted("p", clock, [ServerError("down", status_code=503)])
    q = Scripted("q", clock, ["from q"])
    policy = resilient(
        clock, p, q, targets=[("p:m", 1000.0), ("q:m", 0.001)], retry=Retry(attempts=2, base=0, cap=0)
    )
    response = policy.complete(REQUEST, ctx=CallContext())
    assert response.text == "from q" and [s.target for s in response.route.steps] == ["p:m", "q:m"]


def test_a_target_whose_breaker_is_open_is_skipped_without_a_request() -> None:
    clock = Clock()
    p = Scripted("p", clock, [ServerError("down", status_code=503)])
    q = Scripted("q", clock, ["q1", "q2"])
    policy = resilient(
        clock,
        p,
        q,
        targets=[("p:m", 1000.0), ("q:m", 0.001)],
        breaker=Breaker(failures=1),
        retry=Retry(attempts=2, base=0, cap=0),
    )
    policy.complete(REQUEST, ctx=CallContext())  # p fails once: its breaker opens, q answers
    response = policy.complete(REQUEST, ctx=CallContext())
    assert [(s.target, s.outcome) for s in response.route.steps] == [("p:m", "skipped"), ("q:m", "ok")]
    assert len(p.calls) == 1


def test_a_target_without_room_hands_the_call_to_another_at_once() -> None:
    clock = Clock()
    p, q = Scripted("p", clock, ["p1"]), Scripted("q", clock, ["q1"])
    state = SharedState()
    policy = resilient(
        clock, p, q, state=state, targets=[("p:m", 1000.0), ("q:m", 0.001)], rate_limit=RateLimit(rpm=1)
    )
    assert policy.complete(REQUEST, ctx=ctx(clock, 5)).text == "p1"
    response = policy.complete(REQUEST, ctx=ctx(clock, 5))
    assert response.text == "q1" and clock.slept == []  # each target has its own window
    assert [(s.target, s.outcome) for s in response.route.steps] == [("p:m", "skipped"), ("q:m", "ok")]
    with pytest.raises(RateLimited):  # both full, and 60 s do not fit in 5
        policy.complete(REQUEST, ctx=ctx(clock, 5))
