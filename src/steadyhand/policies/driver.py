"""The sans-I/O decision driver: a policy's logic is a generator, written once for sync and async.

A policy's ``decide`` yields :class:`Attempt` s (which provider, which request, how long to wait first)
and receives an :class:`Outcome` for each; it returns the outcome that answers the call or raises the
error that ends it. It never sleeps, reads a clock or touches a socket: times arrive on the outcomes
and the start time is an argument, so the logic is unit-testable with plain numbers. The drivers here
do the I/O: :func:`drive` / :func:`adrive` for complete calls, :func:`drive_stream` /
:func:`adrive_stream` for streams, where an attempt succeeds once its first content chunk has arrived
(after that, an error belongs to the caller as :class:`~steadyhand.errors.StreamInterrupted` with the
partial text: the answer has started).
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field

from ..context import NO_CONTEXT, CallContext
from ..errors import ProviderError, StreamInterrupted
from ..providers.base import Provider
from ..providers.wrapper import WrapperProvider
from ..types import Chunk, ModelRequest, ModelResponse

__all__ = [
    "Attempt",
    "Decisions",
    "Outcome",
    "PolicyProvider",
    "adrive",
    "adrive_stream",
    "drive",
    "drive_stream",
    "has_content",
    "interrupted",
    "with_route",
]


@dataclass(frozen=True, slots=True)
class Attempt:
    """Send ``request`` to ``provider`` with ``ctx``, after waiting ``wait`` seconds."""

    provider: Provider
    request: ModelRequest
    ctx: CallContext = NO_CONTEXT
    wait: float = 0.0


@dataclass(slots=True)
class Outcome:
    """What one attempt gave: a response (or, for a stream, its first chunks) or an error."""

    attempt: Attempt
    started: float
    """Clock reading when the attempt was sent (after its wait)."""
    ended: float
    response: ModelResponse | None = None
    error: Exception | None = None
    chunks: list[Chunk] = field(default_factory=list)
    """A stream's chunks read so far (its first one); the rest follow from ``_rest``."""
    _rest: Iterator[Chunk] | AsyncIterator[Chunk] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


Decisions = Generator[Attempt, Outcome, Outcome]
"""What ``decide`` returns: yields attempts, is sent their outcomes, returns the winning outcome."""


_new_object, _set_attr = object.__new__, object.__setattr__


def with_route(response: ModelResponse, route: object) -> ModelResponse:
    """``response.model_copy(update={"route": route})`` by hand: pydantic's copy goes through three
    ``copy.copy`` calls and a generic update, and a policy attaches its route on every call."""
    copied = _new_object(type(response))
    values = response.__dict__.copy()
    values["route"] = route
    extra = response.__pydantic_extra__
    private = getattr(response, "__pydantic_private__", None)
    _set_attr(copied, "__dict__", values)
    _set_attr(copied, "__pydantic_extra__", None if extra is None else dict(extra))
    _set_attr(copied, "__pydantic_fields_set__", response.__pydantic_fields_set__ | {"route"})
    _set_attr(copied, "__pydantic_private__", None if private is None else dict(private))
    return copied


async def _asleep(seconds: float) -> None:
    import asyncio  # on first use: a sync app need not import asyncio

    await asyncio.sleep(seconds)


def _start(decisions: Decisions) -> Attempt | Outcome:
    try:
        return next(decisions)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def _send(decisions: Decisions, outcome: Outcome) -> Attempt | Outcome:
    try:
        return decisions.send(outcome)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def _result(outcome: Outcome) -> ModelResponse:
    if outcome.error is not None:
        raise outcome.error
    if outcome.response is None:
        raise TypeError("a policy returned an outcome without a response")
    return outcome.response


def drive(
    decisions: Decisions,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ModelResponse:
    """Run a policy's decisions with blocking calls; returns the winning response."""
    step = _start(decisions)
    try:
        while isinstance(step, Attempt):
            if step.wait > 0:
                sleep(step.wait)
            started = clock()
            try:
                response = step.provider.complete(step.request, ctx=step.ctx)
                outcome = Outcome(step, started, clock(), response=response)
            except Exception as exc:
                outcome = Outcome(step, started, clock(), error=exc)
            step = _send(decisions, outcome)
    finally:
        decisions.close()  # the caller gave up (KeyboardInterrupt...): no further attempts
    return _result(step)


async def adrive(
    decisions: Decisions,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = _asleep,
) -> ModelResponse:
    """The async twin of :func:`drive`; cancelling the caller stops further attempts."""
    step = _start(decisions)
    try:
        while isinstance(step, Attempt):
            if step.wait > 0:
                await sleep(step.wait)
            started = clock()
            try:
                response = await step.provider.acomplete(step.request, ctx=step.ctx)
                outcome = Outcome(step, started, clock(), response=response)
            except Exception as exc:
                outcome = Outcome(step, started, clock(), error=exc)
            step = _send(decisions, outcome)
    finally:
        decisions.close()
    return _result(step)


def has_content(chunk: Chunk) -> bool:
    """Whether ``chunk`` carries part of the answer (text, a tool call, a finish), not just a preamble."""
    return bool(chunk.text or chunk.tool_calls or chunk.finish_reason)


def _open(attempt: Attempt, clock: Callable[[], float]) -> Outcome:
    """Send the attempt and read up to its first content chunk (a role-only preamble is not an answer)."""
    started = clock()
    iterator = attempt.provider.stream(attempt.request, ctx=attempt.ctx)
    first: list[Chunk] = []
    try:
        for chunk in iterator:
            first.append(chunk)
            if has_content(chunk):
                break
    except Exception as exc:
        close_iterator(iterator)
        return Outcome(attempt, started, clock(), error=exc)
    return Outcome(attempt, started, clock(), chunks=first, _rest=iterator)


def interrupted(error: Exception, chunks: list[Chunk]) -> Exception:
    """An error after the answer started, as :class:`StreamInterrupted` carrying the text so far.

    Once text was shown, failing over would repeat or contradict it; the caller gets what came, marked
    incomplete, and never an answer that looks whole.
    """
    if not isinstance(error, ProviderError) or isinstance(error, StreamInterrupted):
        return error
    partial = "".join(c.text for c in chunks if c.index == 0)
    out = StreamInterrupted(
        f"the stream failed after its answer had started ({type(error).__name__}: {error.message}); "
        "the text so far is on partial_text and is incomplete",
        partial_text=partial,
        provider=error.provider,
        model=error.model,
    )
    out.route = error.route
    return out


def close_iterator(iterator: object) -> None:
    """Close a (sync) stream if it can be closed: releases its connection."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def drive_stream(
    decisions: Decisions,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Chunk]:
    """Run a policy's decisions for a stream: fail over until one attempt yields its first chunk."""
    step = _start(decisions)
    opened: list[Outcome] = []
    try:
        while isinstance(step, Attempt):
            if step.wait > 0:
                sleep(step.wait)
            outcome = _open(step, clock)
            if outcome.ok:
                opened.append(outcome)
            step = _send(decisions, outcome)
    finally:
        decisions.close()
        for other in opened:
            if other is not step:
                close_iterator(other._rest)  # an opened stream the policy did not choose
    if step.error is not None:
        raise step.error
    rest = step._rest
    seen = list(step.chunks)
    try:
        yield from step.chunks
        if isinstance(rest, Iterator):
            for chunk in rest:
                seen.append(chunk)
                yield chunk
    except Exception as exc:
        out = interrupted(exc, seen)
        if out is exc:
            raise
        raise out from exc
    finally:
        close_iterator(rest)


async def _aopen(attempt: Attempt, clock: Callable[[], float]) -> Outcome:
    started = clock()
    iterator = attempt.provider.astream(attempt.request, ctx=attempt.ctx)
    first: list[Chunk] = []
    try:
        async for chunk in iterator:
            first.append(chunk)
            if has_content(chunk):
                break
    except Exception as exc:
        await aclose_iterator(iterator)
        return Outcome(attempt, started, clock(), error=exc)
    return Outcome(attempt, started, clock(), chunks=first, _rest=iterator)


async def aclose_iterator(iterator: object) -> None:
    """The async twin of :func:`close_iterator`."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


async def adrive_stream(
    decisions: Decisions,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = _asleep,
) -> AsyncIterator[Chunk]:
    """The async twin of :func:`drive_stream`."""
    step = _start(decisions)
    opened: list[Outcome] = []
    try:
        while isinstance(step, Attempt):
            if step.wait > 0:
                await sleep(step.wait)
            outcome = await _aopen(step, clock)
            if outcome.ok:
                opened.append(outcome)
            step = _send(decisions, outcome)
    finally:
        decisions.close()
        for other in opened:
            if other is not step:
                await aclose_iterator(other._rest)
    if step.error is not None:
        raise step.error
    rest = step._rest
    seen = list(step.chunks)
    try:
        for chunk in step.chunks:
            yield chunk
        if isinstance(rest, AsyncIterator):
            async for chunk in rest:
                seen.append(chunk)
                yield chunk
    except Exception as exc:
        out = interrupted(exc, seen)
        if out is exc:
            raise
        raise out from exc
    finally:
        await aclose_iterator(rest)


class PolicyProvider(WrapperProvider):
    """A wrapper whose behaviour is one :meth:`decide` generator, run by the four drivers.

    ``clock``, ``sleep`` and ``async_sleep`` are attributes so tests (and the policies' own unit
    tests) can run the real drivers on a fake clock.
    """

    clock: Callable[[], float] = staticmethod(time.monotonic)
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    async_sleep: Callable[[float], Awaitable[None]] = staticmethod(_asleep)

    @abstractmethod
    def decide(self, request: ModelRequest, ctx: CallContext, *, now: float) -> Decisions:
        """Yield attempts, receive outcomes, return the one that answers (or raise)."""

    def complete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        return drive(self.decide(request, ctx, now=self.clock()), clock=self.clock, sleep=self.sleep)

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        decisions = self.decide(request, ctx, now=self.clock())
        return await adrive(decisions, clock=self.clock, sleep=self.async_sleep)

    def stream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> Iterator[Chunk]:
        return drive_stream(self.decide(request, ctx, now=self.clock()), clock=self.clock, sleep=self.sleep)

    def astream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> AsyncIterator[Chunk]:
        decisions = self.decide(request, ctx, now=self.clock())
        return adrive_stream(decisions, clock=self.clock, sleep=self.async_sleep)
