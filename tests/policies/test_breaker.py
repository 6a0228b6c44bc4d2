"""Circuit breaker: the state machine on plain numbers, then an open breaker skipping its target."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from steadyhand.errors import (
    BadRequest,
    CircuitOpen,
    ConfigurationError,
    DeadlineExceeded,
    RateLimited,
    ServerError,
)
from steadyhand.policies import Breaker, BreakerState, Retry, SharedState

from ._fakes import REDIS_CLOCK, REQUEST, Clock, Scripted, ctx, resilient

DOWN = ServerError("down", status_code=503)


Make = Callable[[Breaker], BreakerState]


@pytest.fixture(params=["memory", "redis"])
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    """A breaker kept in memory, or the same state machine as a Lua script in a real redis-server."""
    if request.param == "memory":
        yield BreakerState
        return
    from steadyhand.policies.redis_state import RedisState

    state = RedisState(request.getfixturevalue("redis_server").url)
    yield lambda settings: state.breaker(f"test.breaker:{uuid.uuid4().hex}", settings)
    state.close()


def test_it_opens_after_failures_within_the_window(make: Make) -> None:
    breaker = make(Breaker(failures=3, window=10.0, cooldown=5.0))
    for t in (0.0, 1.0):
        assert breaker.admit(t) == "closed"
        breaker.record(DOWN, t)
    assert breaker.state(2.0) == "closed"
    breaker.record(DOWN, 2.0)
    assert breaker.state(2.0) == "open" and breaker.admit(2.5) is None
    assert breaker.retry_in(3.0) == pytest.approx(4.0, abs=REDIS_CLOCK)


def test_failures_outside_the_window_do_not_count(make: Make) -> None:
    breaker = make(Breaker(failures=3, window=10.0))
    for t in (0.0, 5.0, 10.5):  # the first has left the window when the third arrives
        breaker.record(DOWN, t)
    assert breaker.state(10.5) == "closed"
    breaker.record(DOWN, 11.0)
    assert breaker.state(11.0) == "open"


def test_a_success_resets_the_count(make: Make) -> None:
    breaker = make(Breaker(failures=2))
    breaker.record(DOWN, 0.0)
    breaker.record(None, 1.0)
    breaker.record(DOWN, 2.0)
    assert breaker.state(2.0) == "closed"


def test_rejected_requests_do_not_open_it(make: Make) -> None:
    breaker = make(Breaker(failures=1))
    breaker.record(BadRequest("your fault", status_code=400), 0.0)
    assert breaker.state(0.0) == "closed"


def test_half_open_probes_then_closes_or_reopens(make: Make) -> None:
    breaker = make(Breaker(failures=1, cooldown=5.0, probes=1))
    breaker.record(DOWN, 0.0)
    assert breaker.admit(4.9) is None
    assert breaker.admit(5.0) == "half_open"
    assert breaker.admit(5.1) is None  # the probe budget is spent while the probe is out
    breaker.record(DOWN, 5.2)  # the probe failed: open for another cooldown
    assert breaker.state(5.3) == "open" and breaker.admit(10.1) is None
    assert breaker.admit(10.2) == "half_open"
    breaker.record(None, 10.3)
    assert breaker.state(10.3) == "closed" and breaker.admit(10.4) == "closed"


def test_the_cooldown_is_at_least_the_retry_after_seen(make: Make) -> None:
    breaker = make(Breaker(failures=1, cooldown=5.0))
    breaker.record(RateLimited("slow down", status_code=429, retry_after=20.0), 0.0)
    assert breaker.state(19.0) == "open" and breaker.state(20.0) == "half_open"


def test_settings_are_checked() -> None:
    for bad in ({"failures": 0}, {"window": 0.0}, {"cooldown": -1.0}, {"probes": 0}):
        with pytest.raises(ConfigurationError):
            Breaker(**bad)


def test_an_open_breaker_skips_the_target_without_a_request() -> None:
    clock = Clock()
    state = SharedState()
    primary = Scripted("p", clock, [DOWN, DOWN])
    backup = Scripted("b", clock, ["one", "two", "three"])
    breaker = Breaker(failures=2, window=30.0, cooldown=15.0)
    policy = resilient(
        clock, primary, backup, fallbacks=["b:m"], breaker=breaker, state=state, retry=Retry(1)
    )
    assert policy.complete(REQUEST, ctx=ctx(clock)).text == "one"
    second = policy.complete(REQUEST, ctx=ctx(clock))  # the second failure opens it
    assert second.text == "two" and second.route.steps[0].breaker == "closed"
    third = policy.complete(REQUEST, ctx=ctx(clock))
    assert third.text == "three" and len(primary.calls) == 2  # skipped: no third request
    skipped = third.route.steps[0]
    assert (skipped.outcome, skipped.error, skipped.breaker, skipped.duration) == (
        "skipped",
        "CircuitOpen",
        "open",
        0,
    )


def test_probes_bring_the_primary_back() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [DOWN, "healthy again", "closed again"])
    backup = Scripted("b", clock, ["from backup"])
    breaker = Breaker(failures=1, cooldown=15.0)
    policy = resilient(clock, primary, backup, fallbacks=["b:m"], breaker=breaker, retry=Retry(1))
    assert policy.complete(REQUEST, ctx=ctx(clock)).text == "from backup"
    clock.now += 15.0
    response = policy.complete(REQUEST, ctx=ctx(clock))
    assert response.text == "healthy again" and response.route.steps[0].breaker == "half_open"
    again = policy.complete(REQUEST, ctx=ctx(clock))
    assert again.text == "closed again" and again.route.steps[0].breaker == "closed"


def test_clients_sharing_state_share_the_breaker() -> None:
    clock = Clock()
    state = SharedState()
    breaker = Breaker(failures=1, cooldown=60.0)
    first = Scripted("p", clock, [DOWN])
    resilient(
        clock, first, Scripted("b", clock, ["x"]), fallbacks=["b:m"], breaker=breaker, state=state
    ).complete(REQUEST, ctx=ctx(clock))
    other = Scripted("p", clock, [])  # another client's provider for the same target
    alone = resilient(clock, other, breaker=breaker, state=state)
    with pytest.raises(DeadlineExceeded) as info:
        alone.complete(REQUEST, ctx=ctx(clock))
    assert other.calls == [] and info.value.reason == "options"
    assert isinstance(info.value.last_error, CircuitOpen) and "fallback" in str(info.value.last_error)
    separate = Scripted("p", clock, ["fine"])
    assert resilient(clock, separate, breaker=breaker).complete(REQUEST, ctx=ctx(clock)).text == "fine"


def test_a_cancelled_probe_gives_its_slot_back() -> None:
    clock = Clock()
    state = SharedState()
    breaker = Breaker(failures=1, cooldown=5.0)
    primary = Scripted("p", clock, [DOWN])
    policy = resilient(
        clock, primary, Scripted("b", clock, ["x"]), fallbacks=["b:m"], breaker=breaker, state=state
    )
    policy.complete(REQUEST, ctx=ctx(clock))  # opens it
    clock.now += 5.0
    decisions = policy.decide(REQUEST, ctx(clock), now=clock.now)
    probe = next(decisions)
    assert probe.provider is primary  # the probe is out
    decisions.close()  # the caller cancelled before the probe answered
    shared = state.get("steadyhand.breaker:p:m", lambda: BreakerState(breaker))
    assert shared.admit(clock.now) == "half_open"  # without the release: None, stuck half-open


def test_the_reason_is_the_last_targets() -> None:
    """A primary cut short by a long Retry-After, then a fallback whose breaker is open: options."""
    clock = Clock()
    state = SharedState()
    breaker = Breaker(failures=1, cooldown=100.0)
    state.get("steadyhand.breaker:b:m", lambda: BreakerState(breaker)).record(DOWN, clock.now)
    primary = Scripted("p", clock, [RateLimited("wait", status_code=429, retry_after=50.0)])
    backup = Scripted("b", clock, [])
    retry = Retry(attempts=2, base=0.0, cap=60.0)
    policy = resilient(clock, primary, backup, fallbacks=["b:m"], retry=retry, breaker=breaker, state=state)
    with pytest.raises(DeadlineExceeded) as info:
        policy.complete(REQUEST, ctx=ctx(clock, timeout=20.0))
    assert info.value.reason == "options" and backup.calls == []
    assert isinstance(info.value.last_error, CircuitOpen)
