"""Retry: which errors go to the same target again, the jittered waits, Retry-After and the deadline."""

from __future__ import annotations

import random

import pytest

from steadyhand.errors import (
    ConfigurationError,
    ContentFiltered,
    ContextWindowExceeded,
    DeadlineExceeded,
    Overloaded,
    PrefillNotSupported,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    ServerError,
    StreamInterrupted,
)
from steadyhand.policies import Retry, should_retry
from steadyhand.providers._errors import ErrorFields, build_error
from steadyhand.providers.openai_chat import classify_openai_error

from ._fakes import REQUEST, Clock, Scripted, ctx, resilient

RETRIED = {408, 429, 500, 502, 503, 504, 529}


def http_error(status: int, retry_after: str | None = None, code: str | None = None) -> ProviderError:
    """The error the OpenAI adapter raises for ``status``, through its own classifier."""
    fields = ErrorFields(message="boom", type=code, code=code)
    headers = {} if retry_after is None else {"retry-after": retry_after}
    return build_error(
        classify_openai_error(status, fields),
        status_code=status,
        headers=headers,
        body=None,
        fields=fields,
        code=code,
        provider="p",
        model="m",
        now=0.0,
    )


@pytest.mark.parametrize("status", [*range(400, 505), 529])
def test_the_status_table_sets_the_number_of_attempts(status: int) -> None:
    clock = Clock()
    primary = Scripted("p", clock, [http_error(status) for _ in range(3)])
    policy = resilient(clock, primary, retry=Retry(attempts=3, base=0.1, cap=1.0))
    with pytest.raises(ProviderError):
        policy.complete(REQUEST, ctx=ctx(clock))
    assert len(primary.calls) == (3 if status in RETRIED else 1), status


def test_a_quota_429_is_never_retried_and_a_rate_limit_429_is() -> None:
    quota = http_error(429, code="insufficient_quota")
    assert isinstance(quota, QuotaExhausted) and not should_retry(quota)
    assert isinstance(http_error(429), RateLimited) and should_retry(http_error(429))


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ProviderConnectionError("reset"), True),
        (StreamInterrupted("cut before content"), True),
        (ProviderTimeout("slow connect", phase="connect"), True),
        (ProviderTimeout("stalled", phase="stall"), True),
        (ProviderTimeout("silent", phase="first_token"), False),  # failed over, not waited on again
        (ProviderTimeout("used its time", phase="total"), False),
        (Overloaded("busy", status_code=529), True),
        (ContextWindowExceeded("too long", status_code=400), False),
        (ContentFiltered("no", status_code=400), False),
        (PrefillNotSupported("no prefill", status_code=400), False),
        (ServerError("conflict", status_code=409), False),
        (ServerError("not implemented", status_code=501), False),
    ],
)
def test_which_errors_are_retried(error: ProviderError, retried: bool) -> None:
    assert should_retry(error) is retried


def test_backoff_is_full_jitter_from_the_injected_random() -> None:
    retry = Retry(attempts=10, base=0.5, cap=3.0)
    waits = [retry.backoff(n, random.Random(1)) for n in range(1, 8)]
    assert waits == [random.Random(1).uniform(0, min(3.0, 0.5 * 2 ** (n - 1))) for n in range(1, 8)]
    ceilings = [0.5, 1.0, 2.0, 3.0, 3.0]
    rng = random.Random(3)
    for n, ceiling in enumerate(ceilings, start=1):
        samples = [retry.backoff(n, rng) for _ in range(2000)]
        assert 0 <= min(samples) < ceiling * 0.05 and ceiling * 0.95 < max(samples) <= ceiling


def test_retries_wait_the_backoff_on_the_fake_clock() -> None:
    clock = Clock()
    primary = Scripted(
        "p", clock, [ServerError("x", status_code=500), ServerError("x", status_code=503), "ok"]
    )
    policy = resilient(clock, primary, retry=Retry(attempts=3, base=1.0, cap=10.0), seed=11)
    response = policy.complete(REQUEST, ctx=ctx(clock))
    rng = random.Random(11)
    expected = [rng.uniform(0, 1.0), rng.uniform(0, 2.0)]
    assert response.text == "ok" and clock.slept == expected
    assert [s.wait for s in response.route.steps] == [0.0, *expected]
    assert primary.at[1] - primary.at[0] == pytest.approx(0.1 + expected[0])  # the gap the provider saw


def test_retry_after_is_a_floor_on_the_wait() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [http_error(429, retry_after="2"), "ok"])
    policy = resilient(clock, primary, retry=Retry(attempts=2, base=0.01, cap=8.0))
    response = policy.complete(REQUEST, ctx=ctx(clock, timeout=10))
    assert clock.slept == [2.0] and primary.at[1] - primary.at[0] >= 2.0
    assert response.route.steps[0].status == 429 and response.route.steps[0].error == "RateLimited"


def test_a_retry_after_longer_than_the_deadline_left_falls_back_at_once() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [http_error(429, retry_after="30")])
    backup = Scripted("b", clock, ["from backup"])
    policy = resilient(clock, primary, backup, fallbacks=["b:m2"], retry=Retry(attempts=3))
    response = policy.complete(REQUEST, ctx=ctx(clock, timeout=5))
    assert response.text == "from backup" and clock.slept == [] and len(primary.calls) == 1
    assert backup.calls[0].model == "m2"


def test_a_retry_after_that_does_not_fit_ends_the_call_on_the_deadline() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [http_error(503, retry_after="30")])
    policy = resilient(clock, primary, retry=Retry(attempts=3, cap=60.0))
    with pytest.raises(DeadlineExceeded) as info:
        policy.complete(REQUEST, ctx=ctx(clock, timeout=5))
    assert info.value.reason == "deadline" and clock.slept == []
    assert isinstance(info.value.last_error, ServerError)
    assert [s.error for s in info.value.route.steps] == ["ServerError"]


def test_a_retry_after_above_cap_is_not_waited_for() -> None:
    retry = Retry(attempts=3, base=0.1, cap=5.0)
    assert (
        retry.wait(RateLimited("x", status_code=429, retry_after=60), 1, random.Random(), left=None) is None
    )
    assert retry.wait(RateLimited("x", status_code=429, retry_after=4), 1, random.Random(), left=None) == 4


def test_the_backoff_is_capped_by_the_deadline_left() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [ServerError("x", status_code=500), "ok"], took=0.5)
    policy = resilient(clock, primary, retry=Retry(attempts=2, base=100.0, cap=100.0), min_attempt=0.1)
    policy.complete(REQUEST, ctx=ctx(clock, timeout=2.0))
    assert clock.slept == [pytest.approx(2.0 - 0.5 - 0.1)]


def test_no_attempt_starts_when_too_little_of_the_deadline_is_left() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [ServerError("x", status_code=500), "never"], took=0.97)
    policy = resilient(clock, primary, retry=Retry(attempts=3, base=0.0, cap=0.0), min_attempt=0.05)
    with pytest.raises(DeadlineExceeded) as info:
        policy.complete(REQUEST, ctx=ctx(clock, timeout=1.0))
    assert len(primary.calls) == 1 and info.value.reason == "deadline"
    assert info.value.route.deadline_left == pytest.approx(0.03)


def test_each_attempt_gets_the_deadline_and_its_number() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [ServerError("x", status_code=500), "ok"], took=0.4)
    policy = resilient(clock, primary, retry=Retry(base=0.0, cap=0.0), attempt_timeout=0.5)
    call = ctx(clock, timeout=0.8, tags={"user": "u"})
    policy.complete(REQUEST, ctx=call)
    first, second = primary.calls
    assert (first.ctx.attempt, second.ctx.attempt) == (1, 2)
    assert first.ctx.deadline == pytest.approx(1000.5)  # min(per-attempt timeout, remaining)
    assert second.ctx.deadline == pytest.approx(1000.8)
    assert second.ctx.tags == {"user": "u"} and second.ctx.target is not None


def test_settings_are_checked() -> None:
    for bad in ({"attempts": 0}, {"base": -1.0}, {"base": 2.0, "cap": 1.0}, {"attempts": True}):
        with pytest.raises(ConfigurationError):
            Retry(**bad)
