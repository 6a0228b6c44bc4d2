"""Fallback: ordered targets, typed triggers, who answered, and the error that ends the call."""

from __future__ import annotations

import pytest

from steadyhand.errors import (
    AuthenticationFailed,
    BadRequest,
    CircuitOpen,
    ConfigurationError,
    ContentFiltered,
    ContextWindowExceeded,
    DeadlineExceeded,
    ModelNotFound,
    Overloaded,
    PrefillNotSupported,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    ServerError,
    StreamInterrupted,
    UnexpectedProviderResponse,
)
from steadyhand.policies import KINDS, Fallback, Retry, error_kind

from ._fakes import REQUEST, Clock, Scripted, ctx, resilient

NO_RETRY = Retry(attempts=1)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (RateLimited("x", status_code=429), "rate_limited"),
        (QuotaExhausted("x", status_code=429), "quota"),
        (Overloaded("x", status_code=529), "overloaded"),
        (ServerError("x", status_code=503), "server_error"),
        (ProviderTimeout("x", phase="first_token"), "timeout"),
        (ProviderConnectionError("x"), "connection"),
        (StreamInterrupted("x"), "connection"),
        (UnexpectedProviderResponse("x"), "unexpected"),
        (AuthenticationFailed("x", status_code=401), "auth"),
        (ContextWindowExceeded("x", status_code=400), "context_window"),
        (ContentFiltered("x", status_code=400), "content_filter"),
        (PrefillNotSupported("x", status_code=400), "prefill"),
        (ModelNotFound("x", status_code=404), "not_found"),
        (BadRequest("x", status_code=422), "bad_request"),
        (CircuitOpen("x", retry_in=1.0), "circuit_open"),
    ],
)
def test_every_error_has_a_kind(error: ProviderError, kind: str) -> None:
    assert error_kind(error) == kind and kind in KINDS


def test_any_takes_everything_but_the_content_filter() -> None:
    anything = Fallback("b:m")
    assert anything.takes(ServerError("x", status_code=500))
    assert anything.takes(ContextWindowExceeded("x", status_code=400))
    assert not anything.takes(ContentFiltered("x", status_code=400))
    assert Fallback("b:m", on=["any", "content_filter"]).takes(ContentFiltered("x", status_code=400))
    only = Fallback("b:m", on="context_window")
    assert only.on == {"context_window"} and not only.takes(ServerError("x", status_code=500))


def test_an_unknown_kind_is_a_configuration_error_naming_the_choices() -> None:
    with pytest.raises(ConfigurationError, match="context_windw.*context_window"):
        Fallback("b:m", on=["context_windw"])
    with pytest.raises(ConfigurationError):
        Fallback("b:m", on=[])


def test_the_first_fallback_answers_and_the_route_says_so() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [ServerError("down", status_code=500)] * 2)
    backup = Scripted("b", clock, ["from backup"])
    policy = resilient(clock, primary, backup, fallbacks=["b:m2"], retry=Retry(attempts=2, base=0, cap=0))
    response = policy.complete(REQUEST, ctx=ctx(clock, timeout=10))
    assert response.text == "from backup" and response.model == "m2"
    route = response.route
    assert [(s.target, s.outcome, s.error, s.status) for s in route.steps] == [
        ("p:m", "error", "ServerError", 500),
        ("p:m", "error", "ServerError", 500),
        ("b:m2", "ok", None, None),
    ]
    assert route.answered_by == "b:m2" and route.ended_by == "answer"
    assert route.deadline_left == pytest.approx(10 - 0.3) and route.overhead == pytest.approx(0.0)
    assert [c.ctx.attempt for c in (*primary.calls, *backup.calls)] == [1, 2, 3]


def test_typed_triggers_pick_the_fallback_for_the_error() -> None:
    """The issue's chain: a backup for anything, a large model only for the context window."""
    clock = Clock()
    primary = Scripted("p", clock, [ContextWindowExceeded("too long", status_code=400)])
    backup = Scripted("b", clock, [ContextWindowExceeded("still too long", status_code=400)])
    large = Scripted("l", clock, ["fits"])
    fallbacks = ["b:small", Fallback("l:large", on=["context_window"])]
    policy = resilient(clock, primary, backup, large, fallbacks=fallbacks)
    response = policy.complete(REQUEST, ctx=ctx(clock))
    assert response.text == "fits" and [len(p.calls) for p in (primary, backup, large)] == [1, 1, 1]

    clock = Clock()
    primary = Scripted("p", clock, [ServerError("down", status_code=500)])
    backup = Scripted("b", clock, [ServerError("down too", status_code=500)])
    large = Scripted("l", clock, [])  # must not be called: it only takes context-window errors
    policy = resilient(clock, primary, backup, large, fallbacks=fallbacks, retry=NO_RETRY)
    with pytest.raises(DeadlineExceeded) as info:
        policy.complete(REQUEST, ctx=ctx(clock))
    assert info.value.reason == "options" and large.calls == []
    assert isinstance(info.value.last_error, ServerError) and info.value.retryable is False
    assert "b:small ServerError 500" in str(info.value)


def test_a_content_filter_refusal_is_not_sent_on_unless_configured() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [ContentFiltered("no", status_code=400)])
    backup = Scripted("b", clock, [])
    policy = resilient(clock, primary, backup, fallbacks=["b:m"])
    with pytest.raises(ContentFiltered) as info:  # the provider's own error: the caller must rephrase
        policy.complete(REQUEST, ctx=ctx(clock))
    assert backup.calls == [] and info.value.route.ended_by == "error"


def test_a_refused_request_without_a_taker_raises_the_providers_error_with_the_route() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [ContextWindowExceeded("too long", status_code=400)])
    policy = resilient(clock, primary)
    with pytest.raises(ContextWindowExceeded) as info:
        policy.complete(REQUEST, ctx=ctx(clock))
    assert len(primary.calls) == 1 and [s.error for s in info.value.route.steps] == ["ContextWindowExceeded"]


def test_a_bug_is_raised_at_once_without_retry_or_fallback() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [KeyError("oops")])
    backup = Scripted("b", clock, [])
    policy = resilient(clock, primary, backup, fallbacks=["b:m"])
    with pytest.raises(KeyError):
        policy.complete(REQUEST, ctx=ctx(clock))
    assert backup.calls == []


def test_a_silent_primary_leaves_time_for_the_fallback() -> None:
    """With only a deadline, each target may use its share of what is left, so the fallback runs."""
    clock = Clock()
    primary = Scripted("p", clock, [ProviderTimeout("no first byte", phase="total")], took=4.0)
    backup = Scripted("b", clock, ["from backup"])
    policy = resilient(clock, primary, backup, fallbacks=["b:m"], deadline=8.0)
    response = policy.complete(REQUEST, ctx=ctx(clock))
    assert primary.calls[0].ctx.deadline == pytest.approx(1004.0)  # half of 8 s: one fallback waits
    assert backup.calls[0].ctx.deadline == pytest.approx(1008.0)  # the last target gets the rest
    assert response.text == "from backup" and len(primary.calls) == 1  # failed over, not retried


def test_the_alias_deadline_and_the_call_deadline_combine() -> None:
    clock = Clock()
    primary = Scripted("p", clock, ["ok", "ok"], took=0.0)
    policy = resilient(clock, primary, deadline=8.0)
    policy.complete(REQUEST, ctx=ctx(clock, timeout=3.0))  # the caller's is earlier
    policy.complete(REQUEST, ctx=ctx(clock, timeout=None))  # only the alias's
    assert [c.ctx.deadline for c in primary.calls] == [pytest.approx(1003.0), pytest.approx(1008.0)]


def test_no_time_at_all_sends_nothing() -> None:
    clock = Clock()
    primary = Scripted("p", clock, [])
    with pytest.raises(DeadlineExceeded) as info:
        resilient(clock, primary).complete(REQUEST, ctx=ctx(clock, timeout=0.01))
    assert info.value.reason == "deadline" and info.value.route.steps == [] and primary.calls == []
    assert "more time" in str(info.value)


def test_deadline_exceeded_pickles_with_its_route() -> None:
    import pickle

    clock = Clock()
    with pytest.raises(DeadlineExceeded) as info:
        resilient(clock, Scripted("p", clock, [])).complete(REQUEST, ctx=ctx(clock, timeout=0.01))
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.reason == "deadline" and copy.route == info.value.route


def test_a_fallback_without_json_mode_is_unfit_unless_the_caller_reads_json_from_text() -> None:
    """A plain JSON request skips it; structured output (which cleans text up) may still use it."""
    from steadyhand.policies.fit import unfit
    from steadyhand.providers.base import Capabilities
    from steadyhand.types import Message, ModelRequest, ResponseFormat

    text_only = Capabilities(response_formats=frozenset({"text"}))
    request = ModelRequest(
        model="m",
        messages=[Message(role="user", content="hi")],
        response_format=ResponseFormat(type="json_object"),
    )
    assert unfit(request, text_only) == "no JSON mode"
    assert unfit(request, text_only, json_from_text=True) is None
    assert unfit(request, Capabilities()) is None
