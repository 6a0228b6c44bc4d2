"""The policy that runs deadline, retry, breaker, fallback, rate limits and balancing over one call.

They are one decision, not a stack of wrappers: whether to retry depends on the deadline left and
on whether a fallback would take the error; a breaker or a full rate limit decides whether a target
is tried at all, and which of the alias's balanced targets goes next. So one :class:`Resilient`
``decide`` walks the chain (the alias's own targets, then each fallback that takes the last error),
picking a target per attempt (by weight or fewest in flight), retrying while
:mod:`~steadyhand.policies.retry` says so and the wait fits, waiting for a rate limit's room when
it fits (its limiters never wait themselves), and records every step in a
:class:`~steadyhand.policies.Route`. The settings come from :mod:`retry
<steadyhand.policies.retry>`, :mod:`breaker <steadyhand.policies.breaker>`, :mod:`fallback
<steadyhand.policies.fallback>` and :mod:`limits <steadyhand.policies.limits>`; :func:`resilient`
makes it a client ``Policy``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import Literal

from .._config import Target
from ..context import NO_CONTEXT, CallContext
from ..errors import (
    CircuitOpen,
    ConfigurationError,
    ProviderError,
    ProviderTimeout,
    RateLimited,
)
from ..providers.base import Provider
from ..types import ModelRequest, ModelResponse
from .breaker import Breaker, BreakerState, State
from .driver import Attempt, Decisions, Outcome, PolicyProvider, adrive, drive, with_route
from .fallback import Fallback
from .fit import unfit
from .limits import RateLimit
from .ratelimit import RateLimiter, limit_key
from .retry import Retry
from .route import Route, Step
from .stack import Policy, StackInfo
from .verdict import EPSILON as _EPSILON
from .verdict import attempt_span, finish, give_up

__all__ = ["Balance", "Resilient", "resilient"]

_SILENT = ProviderTimeout("probe", phase="first_token")


def _name(target: Target) -> str:
    return f"{target.provider}:{target.model}"


Balance = Literal["weighted", "least_busy"]
_Sent = tuple[State | None, Outcome]
"""The first attempt's breaker state and outcome, sent by :meth:`Resilient.complete`'s fast path."""
_First = tuple[Provider, CallContext, "State | None", "BreakerState | None", "float | None", float]
"""What the fast path needs to send the first attempt: provider, context, breaker state, breaker,
deadline and the wall clock's offset (see :meth:`Resilient._first`)."""


class Resilient(PolicyProvider):
    """Deadline, retry, circuit breaker and fallback for the calls to one alias."""

    wall: Callable[[], float] = staticmethod(time.time)
    """Unix time, to date the attempt spans (the decision clock is monotonic)."""
    limits_clock: Callable[[], float] = staticmethod(time.time)
    """The rate-limit windows' clock: wall time, which processes sharing a window agree on."""

    def __init__(
        self,
        inner: Provider,
        info: StackInfo,
        *,
        fallbacks: Sequence[str | Fallback] = (),
        retry: Retry | None = None,
        breaker: Breaker | None = None,
        deadline: float | None = None,
        attempt_timeout: float | None = None,
        min_attempt: float = 0.05,
        reserve_for_fallbacks: bool = True,
        rng: random.Random | None = None,
        rate_limit: RateLimit | None = None,
        targets: Sequence[str | tuple[str, float]] = (),
        balance: Balance = "weighted",
    ) -> None:
        super().__init__(inner)
        if balance not in ("weighted", "least_busy"):
            raise ConfigurationError(f"balance must be 'weighted' or 'least_busy', not {balance!r}")
        for key, value in (("deadline", deadline), ("attempt_timeout", attempt_timeout)):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ConfigurationError(f"{key} must be a positive number of seconds, not {value!r}")
        self.info = info
        self.retry = retry or Retry()
        self.breaker = breaker
        self.deadline = deadline
        self.attempt_timeout = attempt_timeout
        self.min_attempt = min_attempt
        self.reserve_for_fallbacks = reserve_for_fallbacks
        self.rng = rng or random.Random()
        self.rate_limit = rate_limit
        self.balance: Balance = balance
        members: list[tuple[Target, float]] = []
        for member in targets:
            name, weight = (member, 1.0) if isinstance(member, str) else member
            if isinstance(weight, bool) or not weight > 0:
                raise ConfigurationError(f"target {name!r}: weight must be a positive number, not {weight!r}")
            resolved = info.resolver.resolve(name)
            members.append(
                (Target(info.target.alias, resolved.provider, resolved.model, resolved.api), weight)
            )
        self.members = members or [(info.target, 1.0)]
        """The alias's own targets, balanced per attempt (one unless ``targets`` is given)."""
        self._providers: dict[tuple[bool, str, str], Provider] = {}
        self._breakers: dict[Target, BreakerState] = {}  # by identity: members and chain keep theirs
        self._counts_busy = balance == "least_busy" and len(self.members) > 1
        """Only least_busy reads the in-flight counts: the others skip keeping them."""
        self._busy: dict[str, int] = {}
        self._busy_lock = threading.Lock()
        chain: list[tuple[Fallback | None, Target]] = [(None, info.target)]
        for entry in fallbacks:
            fallback = entry if isinstance(entry, Fallback) else Fallback(entry)
            chain.append((fallback, info.resolver.resolve(fallback.target)))
        self.chain = chain
        only = self.members[0][0]
        self._own_name = _name(info.target)
        """``provider:model`` of the alias's own target, for the fast path's step."""
        self._plain = only if len(self.members) == 1 and only is info.target else None
        """The target of the fast path (see :meth:`complete`): the alias's own, when it is the only one."""
        # How many later targets would take a silent attempt: the deadline is shared with them.
        self._takers_after = [
            sum(1 for f, _ in chain[i + 1 :] if f is not None and f.takes(_SILENT)) for i in range(len(chain))
        ]

    def _provider(self, index: int, target: Target) -> Provider:
        """The provider for a target of the chain, behind its rate limiter when it has a limit."""
        own = index == 0
        key = (own, target.provider, target.model)  # not an f-string: its hash is computed anew
        provider = self._providers.get(key)
        if provider is None:
            first = self.info.target
            same = own and (target.provider, target.model) == (first.provider, first.model)
            provider = self.inner if same else self.info.resolver.provider(target)
            limit = self.rate_limit if own else self._alias_limit(target)
            if limit is not None:
                limiter = RateLimiter(
                    provider, limit=limit, state=self.info.state, wait=False,
                    key=limit_key(target.provider, target.model),
                    provider=target.provider, model=target.model,
                )  # fmt: skip
                limiter.clock, limiter.wall = self.clock, self.limits_clock
                provider = limiter
            self._providers[key] = provider
        return provider

    def _alias_limit(self, target: Target) -> RateLimit | None:
        """A fallback that is an alias brings its own ``rate_limit`` table."""
        alias = self.info.config.all_models().get(target.alias)
        table = None if alias is None else alias.rate_limit
        return None if table is None else RateLimit.from_table(table)

    def _pick(
        self,
        group: list[tuple[Target, float]],
        skip: set[str],
        failed: set[str],
        not_before: dict[str, float],
        start: float,
    ) -> Target | None:
        """The member to try next: not skipped nor throttled; not one that failed this call if others
        remain; then by weight (``weighted``) or fewest calls in flight (``least_busy``)."""
        if len(group) == 1:
            target = group[0][0]
            name = _name(target)
            return None if name in skip or not_before.get(name, start) > start else target
        ready = [
            (t, w) for t, w in group if _name(t) not in skip and not_before.get(_name(t), start) <= start
        ]
        fresh = [(t, w) for t, w in ready if _name(t) not in failed]
        ready = fresh or ready
        if not ready:
            return None
        if self.balance == "least_busy":
            least = min(self._busy.get(_name(t), 0) for t, _ in ready)
            ready = [(t, w) for t, w in ready if self._busy.get(_name(t), 0) == least]
        if len(ready) == 1:
            return ready[0][0]
        return self.rng.choices([t for t, _ in ready], weights=[w for _, w in ready])[0]

    def _in_flight(self, name: str, change: int) -> None:
        with self._busy_lock:
            self._busy[name] = self._busy.get(name, 0) + change

    def _breaker(self, target: Target) -> BreakerState | None:
        """The target's breaker, from the shared state once, then kept (the state keeps one per key)."""
        if self.breaker is None:
            return None
        breaker = self._breakers.get(target)
        if breaker is None:
            key = f"steadyhand.breaker:{_name(target)}"
            breaker = self._breakers[target] = self.info.state.breaker(key, self.breaker)
        return breaker

    def _attempt_deadline(self, index: int, start: float, deadline: float | None) -> float | None:
        limit = None if self.attempt_timeout is None else start + self.attempt_timeout
        if deadline is None:
            return limit
        takers = self._takers_after[index]
        if self.reserve_for_fallbacks and takers:
            share = start + (deadline - start) / (takers + 1)
            limit = share if limit is None else min(limit, share)
        return deadline if limit is None else min(limit, deadline)

    # -- the fast path: the usual call, without the generator ----------------------------------------

    def complete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        """What ``drive(self.decide(...))`` does, with the usual first attempt (the alias's own target,
        admitted by its breaker) sent inline: when it answers, that is the call, without a generator,
        an attempt or an outcome object; when it fails, :meth:`decide` takes over from its outcome."""
        now = self.clock()
        first = self._first(ctx, now)
        if first is None:
            return drive(self.decide(request, ctx, now=now), clock=self.clock, sleep=self.sleep)
        provider, sub, state, breaker, deadline, wall_offset = first
        started = self.clock()
        try:
            response = provider.complete(request, ctx=sub)
        except Exception as exc:
            sent = (state, Outcome(Attempt(provider, request, sub), started, self.clock(), error=exc))
            decisions = self.decide(request, ctx, now=now, sent=sent)
            return drive(decisions, clock=self.clock, sleep=self.sleep)
        except BaseException:  # the caller gave up (KeyboardInterrupt...): as the generator's close
            if breaker is not None and state == "half_open":
                breaker.release()
            raise
        return self._answered(request, ctx, response, first, now, started, self.clock())

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        """The async twin of :meth:`complete`; cancelling the caller gives a half-open probe back."""
        now = self.clock()
        first = self._first(ctx, now)
        if first is None:
            return await adrive(self.decide(request, ctx, now=now), clock=self.clock, sleep=self.async_sleep)
        provider, sub, state, breaker, deadline, wall_offset = first
        started = self.clock()
        try:
            response = await provider.acomplete(request, ctx=sub)
        except Exception as exc:
            sent = (state, Outcome(Attempt(provider, request, sub), started, self.clock(), error=exc))
            decisions = self.decide(request, ctx, now=now, sent=sent)
            return await adrive(decisions, clock=self.clock, sleep=self.async_sleep)
        except BaseException:  # cancelled
            if breaker is not None and state == "half_open":
                breaker.release()
            raise
        return self._answered(request, ctx, response, first, now, started, self.clock())

    def _first(self, ctx: CallContext, now: float) -> _First | None:
        """The first attempt as :meth:`decide` would make it, or ``None`` when it would not simply send
        it (several targets to pick from, too little time, an open breaker: it asks again, alike)."""
        target = self._plain
        if target is None:
            return None
        deadline = ctx.deadline
        if self.deadline is not None and (deadline is None or now + self.deadline < deadline):
            deadline = now + self.deadline
        if deadline is not None and deadline - now < self.min_attempt - _EPSILON:
            return None
        breaker = self._breakers.get(target) or self._breaker(target)
        state = None if breaker is None else breaker.admit(now)
        if breaker is not None and state is None:
            return None
        sub = ctx.replace(attempt=1, deadline=self._attempt_deadline(0, now, deadline), target=target)
        provider = self._providers.get((True, target.provider, target.model))
        if provider is None:
            provider = self._provider(0, target)
        wall_offset = 0.0 if ctx.span is None else self.wall() - now
        return provider, sub, state, breaker, deadline, wall_offset

    def _answered(
        self,
        request: ModelRequest,
        ctx: CallContext,
        response: ModelResponse,
        first: _First,
        now: float,
        started: float,
        ended: float,
    ) -> ModelResponse:
        """The fast path's answer, recorded as :meth:`decide` records one."""
        provider, sub, state, breaker, deadline, wall_offset = first
        target = self.info.target
        step = Step(self._own_name, target.alias, "ok", None, None, 0.0, ended - started, state)
        route = Route([step])
        span = ctx.span
        if span is not None:
            outcome = Outcome(Attempt(provider, request, sub), started, ended, response)
            attempt_span(span, step, outcome, 1, wall_offset)
        if breaker is not None:
            breaker.record(None, ended)
        route.answered_by = step.target
        finish(route, ctx, "answer", now, ended, deadline)
        if span is not None:
            span.answered_by(target.provider, target.model)
        return with_route(response, route)

    def decide(
        self, request: ModelRequest, ctx: CallContext, *, now: float, sent: _Sent | None = None
    ) -> Decisions:
        """The whole decision. ``sent``: the first attempt's breaker state and outcome, when
        :meth:`complete` sent it itself (its fast path) and it did not answer."""
        wall_offset = 0.0 if ctx.span is None else self.wall() - now  # only attempt spans need it
        deadline = ctx.deadline
        if self.deadline is not None and (deadline is None or now + self.deadline < deadline):
            deadline = now + self.deadline
        route = Route()
        clock = now
        last: ProviderError | None = None
        cut_by_deadline = False
        number = 0
        for index, (fallback, chain_target) in enumerate(self.chain):
            if fallback is not None and (last is None or not fallback.takes(last)):
                continue
            why = None
            if index > 0:  # the alias's own target is always tried
                fit_for = self._provider(index, chain_target).capabilities
                why = unfit(request, fit_for, json_from_text=ctx.json_from_text)
            if why is not None:  # a certain refusal: not worth an attempt or a slice of the deadline
                route.steps.append(Step(_name(chain_target), chain_target.alias, "skipped", f"unfit: {why}"))
                continue
            group = self.members if index == 0 else [(chain_target, 1.0)]
            skip: set[str] = set()  # breaker open, or its limit can never admit this call
            failed: set[str] = set()
            not_before: dict[str, float] = {}  # throttled by the rate limit until then
            made, wait = 0, 0.0
            cut_by_deadline = False  # says how the last target tried ended
            while True:
                start = clock + wait
                if deadline is not None and deadline - start < self.min_attempt - _EPSILON:
                    cut_by_deadline = True
                    break
                target: Target | None
                if len(group) == 1 and not skip and not not_before:  # the usual first pick: no call
                    target = group[0][0]
                else:
                    target = self._pick(group, skip, failed, not_before, start)
                if target is None:
                    waiting = [t for n, t in not_before.items() if n not in skip]
                    if not waiting:
                        break
                    wait = max(wait, min(waiting) - clock)  # every member throttled: wait for the first
                    if deadline is not None and deadline - (clock + wait) < self.min_attempt - _EPSILON:
                        cut_by_deadline = True
                        break
                    continue
                name = _name(target)
                # the kept breaker and provider are read inline: a method call less per attempt
                breaker = self._breakers.get(target) or self._breaker(target)
                if sent is not None:  # the first attempt: admitted and sent by the fast path already
                    (state, outcome), sent = sent, None
                    number += 1
                else:
                    state = None if breaker is None else breaker.admit(start)
                    if breaker is not None and state is None:
                        retry_in = breaker.retry_in(start)
                        last = CircuitOpen(
                            "the circuit breaker is open after repeated failures; it lets a probe through "
                            f"in {retry_in:.1f}s: configure a fallback so calls do not fail meanwhile",
                            retry_in=retry_in,
                            provider=target.provider,
                            model=target.model,
                        )
                        skipped = Step(name, target.alias, "skipped", "CircuitOpen", breaker="open")
                        route.steps.append(skipped)
                        skip.add(name)
                        continue
                    number += 1
                    sub = ctx.replace(
                        attempt=number, deadline=self._attempt_deadline(index, start, deadline), target=target
                    )
                    first = self.info.target
                    same = target is first or (target.provider, target.model) == (first.provider, first.model)
                    asked = request if same else request.model_copy(update={"model": target.model})
                    busy = self._counts_busy
                    if busy:
                        self._in_flight(name, +1)
                    try:
                        provider = self._providers.get((index == 0, target.provider, target.model))
                        if provider is None:
                            provider = self._provider(index, target)
                        outcome = yield Attempt(provider, asked, sub, wait)
                    except GeneratorExit:  # the caller gave up (cancelled, closed the stream)
                        if breaker is not None and state == "half_open":
                            breaker.release()  # no verdict on the probe: let another one go
                        raise
                    finally:
                        if busy:
                            self._in_flight(name, -1)
                clock = outcome.ended
                error = outcome.error
                if isinstance(error, RateLimited) and error.local:  # nothing was sent
                    number -= 1
                    if breaker is not None and state == "half_open":
                        breaker.release()
                    route.steps.append(Step(name, target.alias, "skipped", "RateLimited", wait=wait))
                    last = error
                    if error.retry_after is None:
                        skip.add(name)
                    else:
                        not_before[name] = clock + error.retry_after
                    wait = 0.0
                    continue
                made += 1
                step = Step(
                    name,
                    target.alias,
                    "ok" if error is None else "error",
                    None if error is None else type(error).__name__,
                    None if error is None else getattr(error, "status_code", None),
                    wait,
                    outcome.ended - outcome.started,
                    state,
                )
                route.steps.append(step)
                if ctx.span is not None:
                    attempt_span(ctx.span, step, outcome, number, wall_offset)
                if breaker is not None:
                    breaker.record(error, clock)
                if error is None:
                    route.answered_by = step.target
                    finish(route, ctx, "answer", now, clock, deadline)
                    if ctx.span is not None:
                        ctx.span.answered_by(target.provider, target.model)
                    if outcome.response is not None:
                        outcome.response = with_route(outcome.response, route)
                    return outcome
                if not isinstance(error, ProviderError):
                    finish(route, ctx, "error", now, clock, deadline)
                    raise error  # a bug, not a provider failure: no retry, no fallback
                last = error
                failed.add(name)
                left = None if deadline is None else deadline - clock - self.min_attempt
                next_wait = self.retry.wait(error, made, self.rng, left=left)
                if next_wait is None:
                    cut_by_deadline = left is not None and self.retry.allows(error, made)
                    break
                wait = next_wait
        raise give_up(
            route, ctx, last, cut_by_deadline, now, clock, deadline, self.min_attempt, self.info.target
        )


def resilient(
    *,
    fallbacks: Sequence[str | Fallback] = (),
    retry: Retry | None = None,
    breaker: Breaker | None = None,
    deadline: float | None = None,
    attempt_timeout: float | None = None,
    min_attempt: float = 0.05,
    reserve_for_fallbacks: bool = True,
    rng: random.Random | None = None,
    rate_limit: RateLimit | None = None,
    targets: Sequence[str | tuple[str, float]] = (),
    balance: Balance = "weighted",
    aliases: Collection[str] | None = None,
) -> Policy:
    """A client ``Policy`` applying :class:`Resilient` to every alias (or only to ``aliases``)."""

    def apply(provider: Provider, info: StackInfo) -> Provider:
        if aliases is not None and info.target.alias not in aliases:
            return provider
        return Resilient(
            provider,
            info,
            fallbacks=fallbacks,
            retry=retry,
            breaker=breaker,
            deadline=deadline,
            attempt_timeout=attempt_timeout,
            min_attempt=min_attempt,
            reserve_for_fallbacks=reserve_for_fallbacks,
            rng=rng,
            rate_limit=rate_limit,
            targets=targets,
            balance=balance,
        )

    return apply
