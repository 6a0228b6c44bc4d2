"""The rate-limit policy on a fake clock: admission, waiting inside the deadline, the local
``RateLimited`` when the wait does not fit, settling to real usage, release on error and cancel,
and the same decisions under the four drivers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field

import pytest

from steadyhand import CallContext, ModelRequest, ModelResponse, RateLimited, ServerError
from steadyhand.policies import RateLimit, RateLimiter, SharedState
from steadyhand.policies.ratelimit import limit_key, reservation_tokens
from steadyhand.providers import Provider
from steadyhand.testing import text_response
from steadyhand.types import Chunk, Message, Usage

from ._fakes import Clock

KEY = limit_key("p", "m")


@dataclass
class Metered(Provider):
    """Answers ``text`` after ``took`` fake seconds, reporting ``used`` tokens; or raises ``error``."""

    clock: Clock
    name: str = "p"
    used: int = 15
    took: float = 0.5
    error: BaseException | None = None
    calls: list[float] = field(default_factory=list)

    def _answer(self) -> None:
        self.calls.append(self.clock.now)
        self.clock.now += self.took
        if self.error is not None:
            raise self.error

    def _usage(self) -> Usage:
        return Usage(input_tokens=5, output_tokens=self.used - 5)

    def complete(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> ModelResponse:
        self._answer()
        return text_response("ok", model=request.model, usage=self._usage())

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> ModelResponse:
        return self.complete(request, ctx=ctx)

    def stream(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> Iterator[Chunk]:
        self._answer()
        yield Chunk(text="o")
        yield Chunk(text="k")
        yield Chunk(usage=self._usage())

    async def astream(
        self, request: ModelRequest, *, ctx: CallContext = CallContext()
    ) -> AsyncIterator[Chunk]:
        for chunk in self.stream(request, ctx=ctx):
            yield chunk


def _limiter(
    clock: Clock, inner: Provider, limit: RateLimit, state: SharedState | None = None
) -> RateLimiter:
    limiter = RateLimiter(inner, limit=limit, state=state or SharedState(), key=KEY, provider="p", model="m")
    limiter.clock = limiter.wall = clock
    limiter.sleep = clock.sleep
    limiter.async_sleep = clock.async_sleep
    return limiter


def _request(max_tokens: int | None = 100) -> ModelRequest:
    return ModelRequest(model="m", messages=[Message(role="user", content="x" * 40)], max_tokens=max_tokens)


def _ctx(clock: Clock, timeout: float | None, traffic: str = "production") -> CallContext:
    return CallContext(deadline=None if timeout is None else clock.now + timeout, traffic=traffic)  # type: ignore[arg-type]


def test_the_reservation_is_the_estimated_input_plus_max_tokens() -> None:
    limit = RateLimit(tpm=10_000, output_tokens=256)
    assert reservation_tokens(_request(100), limit) == 4 + 10 + 100  # framing + 40 chars / 4 + max_tokens
    assert reservation_tokens(_request(None), limit) == 4 + 10 + 256
    assert reservation_tokens(_request(None), RateLimit(rpm=5)) == 0  # no tpm: nothing to count


def test_a_call_waits_for_room_when_the_wait_fits_its_deadline() -> None:
    clock = Clock()
    inner = Metered(clock)
    limiter = _limiter(clock, inner, RateLimit(rpm=1))
    limiter.complete(_request(), ctx=_ctx(clock, 100))
    limiter.complete(_request(), ctx=_ctx(clock, 100))
    assert clock.slept == [pytest.approx(59.5)]  # admitted at 1000, the call took 0.5
    assert inner.calls == [1000.0, pytest.approx(1060.0)]


def test_a_call_that_cannot_be_admitted_before_its_deadline_fails_locally_with_the_wait() -> None:
    clock = Clock()
    inner = Metered(clock)
    limiter = _limiter(clock, inner, RateLimit(rpm=1))
    limiter.complete(_request(), ctx=_ctx(clock, 100))
    with pytest.raises(RateLimited) as info:
        limiter.complete(_request(), ctx=_ctx(clock, 10))
    error = info.value
    assert error.local and error.status_code == 429 and error.retry_after == pytest.approx(59.5)
    assert (error.provider, error.model) == ("p", "m") and "rpm = 1" in str(error)
    assert clock.slept == [] and len(inner.calls) == 1  # nothing was sent, nobody slept
    assert not RateLimited("provider said so", status_code=429).local


def test_without_waiting_the_limiter_refuses_at_once() -> None:
    clock = Clock()
    limiter = _limiter(clock, Metered(clock), RateLimit(rpm=1))
    limiter.wait = False
    limiter.complete(_request(), ctx=_ctx(clock, None))
    with pytest.raises(RateLimited) as info:
        limiter.complete(_request(), ctx=_ctx(clock, None))
    assert info.value.retry_after == pytest.approx(59.5)


def test_a_call_too_large_for_the_limit_fails_at_once_saying_why() -> None:
    clock = Clock()
    limiter = _limiter(clock, Metered(clock), RateLimit(tpm=100))
    with pytest.raises(RateLimited, match="reserves 114 tokens") as info:
        limiter.complete(_request(100), ctx=_ctx(clock, None))
    assert info.value.retry_after is None and info.value.local


def test_settling_to_real_usage_frees_the_unused_tokens() -> None:
    clock = Clock()
    state = SharedState()
    limiter = _limiter(clock, Metered(clock, used=15), RateLimit(tpm=250), state)
    limiter.complete(_request(100), ctx=_ctx(clock, 5))  # reserves 114, settles to 15
    limiter.complete(_request(100), ctx=_ctx(clock, 5))  # 15 + 114 fits

    class Unmetered(Metered):
        def complete(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> ModelResponse:
            return text_response("no usage")

    unsettled = _limiter(clock, Unmetered(clock), RateLimit(tpm=250), SharedState())
    unsettled.complete(_request(100), ctx=_ctx(clock, 5))
    unsettled.complete(_request(100), ctx=_ctx(clock, 5))
    with pytest.raises(RateLimited):  # 114 + 114 + 114 > 250: an answer without usage keeps its reservation
        unsettled.complete(_request(100), ctx=_ctx(clock, 5))


def test_an_error_releases_the_reservation() -> None:
    clock = Clock()
    state = SharedState()
    failing = _limiter(
        clock, Metered(clock, error=ServerError("down", status_code=503)), RateLimit(rpm=1), state
    )
    with pytest.raises(ServerError):
        failing.complete(_request(), ctx=_ctx(clock, 5))
    _limiter(clock, Metered(clock), RateLimit(rpm=1), state).complete(_request(), ctx=_ctx(clock, 5))
    assert clock.slept == []


def test_a_stream_settles_at_its_end_and_releases_when_closed_early() -> None:
    clock = Clock()
    state = SharedState()
    limiter = _limiter(clock, Metered(clock, used=15), RateLimit(rpm=2, tpm=250), state)
    assert "".join(c.text for c in limiter.stream(_request(100), ctx=_ctx(clock, 5))) == "ok"
    stream = limiter.stream(_request(100), ctx=_ctx(clock, 5))
    assert isinstance(stream, Generator)
    next(stream)
    stream.close()  # the caller stopped reading: its reservation goes back
    assert "".join(c.text for c in limiter.stream(_request(100), ctx=_ctx(clock, 5))) == "ok"
    with pytest.raises(RateLimited):  # rpm 2: the closed stream was released, the two finished ones stay
        next(limiter.stream(_request(100), ctx=_ctx(clock, 5)))


def test_an_asyncio_cancel_releases_the_reservation() -> None:
    clock = Clock()
    state = SharedState()

    class Hanging(Metered):
        async def acomplete(
            self, request: ModelRequest, *, ctx: CallContext = CallContext()
        ) -> ModelResponse:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    hanging = _limiter(clock, Hanging(clock), RateLimit(rpm=1), state)

    async def main() -> None:
        task = asyncio.create_task(hanging.acomplete(_request(), ctx=_ctx(clock, None)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _limiter(clock, Metered(clock), RateLimit(rpm=1), state).acomplete(
            _request(), ctx=_ctx(clock, 1)
        )

    asyncio.run(main())
    assert clock.slept == []


def test_each_traffic_class_draws_on_its_share() -> None:
    clock = Clock()
    limiter = _limiter(clock, Metered(clock), RateLimit(rpm=10, shares={"test": 0.2}))
    for _ in range(2):
        limiter.complete(_request(), ctx=_ctx(clock, 1, "test"))
    with pytest.raises(RateLimited):
        limiter.complete(_request(), ctx=_ctx(clock, 1, "test"))
    for _ in range(8):
        limiter.complete(_request(), ctx=_ctx(clock, 1))  # production still has its room


# -- one decision, four drivers -----------------------------------------------------------------------


def _scenario(mode: str) -> tuple[list[float], list[float], list[str]]:
    """rpm 2: two calls pass, the third cannot wait 59 s in 5 s, the fourth waits inside 70 s."""
    clock = Clock()
    inner = Metered(clock)
    limiter = _limiter(clock, inner, RateLimit(rpm=2))
    outcomes: list[str] = []
    for timeout in (70, 70, 5, 70):
        ctx = _ctx(clock, timeout)
        try:
            if mode == "sync":
                text = limiter.complete(_request(), ctx=ctx).text
            elif mode == "async":
                text = asyncio.run(limiter.acomplete(_request(), ctx=ctx)).text
            elif mode == "stream":
                text = "".join(c.text for c in limiter.stream(_request(), ctx=ctx))
            else:

                async def collect(ctx: CallContext = ctx) -> str:
                    return "".join([c.text async for c in limiter.astream(_request(), ctx=ctx)])

                text = asyncio.run(collect())
        except RateLimited as error:
            text = f"RateLimited local={error.local} after {error.retry_after:.1f}"
        outcomes.append(text)
    return clock.slept, inner.calls, outcomes


@pytest.mark.parametrize("mode", ["async", "stream", "astream"])
def test_every_driver_takes_the_same_decisions(mode: str) -> None:
    assert _scenario(mode) == _scenario("sync")


def test_the_scenario_ends_as_designed() -> None:
    slept, calls, outcomes = _scenario("sync")
    assert slept == [pytest.approx(59.0)] and calls == [1000.0, 1000.5, pytest.approx(1060.0)]
    assert outcomes == ["ok", "ok", "RateLimited local=True after 59.0", "ok"]


def test_limiters_sharing_a_window_keep_apart_their_reservations() -> None:
    """Two clients on one state reserve in one window: each call settles and releases its own reservation
    (the in-memory window's ids come from one counter for the process, not one per limiter)."""
    clock = Clock()
    state = SharedState()
    limit = RateLimit(tpm=10_000)
    first = _limiter(clock, Metered(clock, used=15), limit, state)
    second = _limiter(clock, Metered(clock, used=40), limit, state)
    failing = _limiter(clock, Metered(clock, error=ServerError("down", status_code=500)), limit, state)
    first.complete(_request(), ctx=_ctx(clock, None))
    second.complete(_request(), ctx=_ctx(clock, None))
    with pytest.raises(ServerError):
        failing.complete(_request(), ctx=_ctx(clock, None))
    window = state._window(KEY)
    assert len(window) == 2 and window._tokens == 15 + 40  # the failed call's reservation is gone
    assert sorted(tokens for _, tokens, _ in window._entries.values()) == [15, 40]
