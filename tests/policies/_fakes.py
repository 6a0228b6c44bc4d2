"""A fake clock, scripted providers and a resolver, so the policies run without sleeping or sockets."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

from steadyhand import CallContext, ModelRequest, ModelResponse
from steadyhand._config import Config, Target
from steadyhand.policies import Resilient, SharedState, StackInfo
from steadyhand.providers import Provider
from steadyhand.testing import text_response
from steadyhand.types import Chunk, Message

REDIS_CLOCK = 1e-6
"""Seconds a Redis-backed state may be off by: fake-clock readings travel as wall-clock times (~1.7e9 s),
whose doubles are 2.4e-7 s apart. (Lua's ``tostring`` kept 14 digits, 1e-4 s; the scripts print 17.)"""

REQUEST = ModelRequest(model="m", messages=[Message(role="user", content="hi")])


class Clock:
    """Monotonic seconds that only move when something waits or an attempt takes time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class Call:
    at: float
    model: str
    ctx: CallContext


@dataclass
class Scripted(Provider):
    """Answers with the next item of ``script`` (a str, or an exception to raise), ``took`` s each."""

    name: str
    clock: Clock
    script: list[str | BaseException] = field(default_factory=list)
    took: float = 0.1
    calls: list[Call] = field(default_factory=list)

    def _next(self, request: ModelRequest, ctx: CallContext) -> str:
        self.calls.append(Call(self.clock.now, request.model, ctx))
        assert self.script, f"{self.name} was called {len(self.calls)} times, more than scripted"
        item = self.script.pop(0)
        self.clock.now += self.took
        if isinstance(item, BaseException):
            raise item
        return item

    def complete(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> ModelResponse:
        return text_response(self._next(request, ctx), model=request.model, provider=self.name)

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> ModelResponse:
        return self.complete(request, ctx=ctx)

    def stream(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> Iterator[Chunk]:
        text = self._next(request, ctx)
        for word in text.split():
            yield Chunk(text=word + " ")

    async def astream(
        self, request: ModelRequest, *, ctx: CallContext = CallContext()
    ) -> AsyncIterator[Chunk]:
        for chunk in self.stream(request, ctx=ctx):
            yield chunk

    @property
    def at(self) -> list[float]:
        return [c.at for c in self.calls]


class Resolver:
    """``provider:model`` or an alias of ``aliases`` to a target; targets to the scripted providers."""

    def __init__(self, providers: dict[str, Provider], aliases: dict[str, str] | None = None) -> None:
        self.providers = providers
        self.aliases = aliases or {}

    def resolve(self, model: str) -> Target:
        alias = model
        provider, _, name = self.aliases.get(model, model).partition(":")
        return Target(alias, provider, name, "chat")

    def provider(self, target: Target) -> Provider:
        return self.providers[target.provider]


def resilient(
    clock: Clock,
    primary: Provider,
    *others: Provider,
    state: SharedState | None = None,
    seed: int = 7,
    fallbacks: Sequence[object] = (),
    **settings: object,
) -> Resilient:
    """A Resilient over ``primary`` (target ``primary.name:m``) on the fake clock."""
    providers = {p.name: p for p in (primary, *others)}
    resolver = Resolver(providers)
    target = Target("main", primary.name, "m", "chat")
    info = StackInfo(target=target, config=Config(), state=state or SharedState(), resolver=resolver)
    policy = Resilient(primary, info, fallbacks=fallbacks, rng=random.Random(seed), **settings)  # type: ignore[arg-type]
    policy.clock = clock
    policy.sleep = clock.sleep
    policy.async_sleep = clock.async_sleep
    policy.wall = lambda: 5_000.0
    policy.limits_clock = clock
    return policy


def ctx(clock: Clock, timeout: float | None = None, **fields: object) -> CallContext:
    """A call context whose deadline is ``timeout`` seconds from the fake clock's now."""
    deadline = None if timeout is None else clock.now + timeout
    return CallContext(deadline=deadline, **fields)  # type: ignore[arg-type]
