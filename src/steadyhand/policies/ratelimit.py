"""The rate-limit policy: admit a call to a target only when its RPM and TPM windows have room.

:class:`RateLimiter` wraps the provider of one target. Before the request goes out it reserves one
request and ``estimated input + max_tokens`` tokens in the target's window (kept in the injected
:class:`~steadyhand.policies.SharedState`, so clients and, with Redis, processes given the same
state share it); when the call ends the reservation is settled to the real usage, and when it fails
or is cancelled (asyncio cancel, a stream closed early) it is released. A call that does not fit
waits for room when the wait fits in its deadline, and otherwise fails at once with
:class:`~steadyhand.errors.RateLimited` whose ``local`` is True and ``retry_after`` the wait.
Inside :class:`~steadyhand.policies.Resilient` the limiter never waits itself (``wait=False``): the
policy decides whether to wait, try another target of the alias or fall back, and the route shows it.

The decision (:meth:`RateLimiter.plan`) and the window (:mod:`~steadyhand.policies.limits`) are
I/O-free; the four call methods are thin drivers around them.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any

from ..context import NO_CONTEXT, CallContext
from ..errors import RateLimited
from ..providers.base import Provider
from ..providers.token_estimate import estimate_prompt_tokens
from ..providers.wrapper import WrapperProvider
from ..types import Chunk, ModelRequest, ModelResponse
from .driver import aclose_iterator, close_iterator
from .limits import Admission, Caps, RateLimit, Rid, Window
from .state import SharedState

if TYPE_CHECKING:
    from .stack import Policy, StackInfo

__all__ = ["RateLimiter", "limit_key", "rate_limit", "reservation_tokens"]

_MIN_WAIT = 0.001  # never spin: a wait rounds up to a millisecond
_LOCAL_IDS = itertools.count()
"""Reservation ids in the in-memory windows: one counter for the process, so limiters sharing a window
(clients sharing a state) never reuse each other's ids."""
_ADMITTED = Admission(True, source="memory")
"""What a traced call notes for an admission by the in-memory window (which builds none)."""


async def _asleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def limit_key(provider: str, model: str) -> str:
    """The shared-state key of a target's window."""
    return f"steadyhand.limit:{provider}:{model}"


def reservation_tokens(request: ModelRequest, limit: RateLimit) -> int:
    """What a call reserves: its estimated input plus its ``max_tokens`` per choice (or the default)."""
    if limit.tpm is None:
        return 0
    prompt = estimate_prompt_tokens(request)
    output = request.max_tokens if request.max_tokens is not None else limit.output_tokens
    return prompt + output * max(request.n or 1, 1)


def _used(usage: Any) -> int | None:
    return None if usage is None else usage.total_tokens


class RateLimiter(WrapperProvider):
    """RPM/TPM admission for the calls to one target (see the module docstring)."""

    clock: Callable[[], float] = staticmethod(time.monotonic)
    """The deadline's clock (``ctx.deadline`` is monotonic)."""
    wall: Callable[[], float] = staticmethod(time.time)
    """The windows' clock: wall time, so processes sharing a window through Redis agree on it."""
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    async_sleep: Callable[[float], Awaitable[None]] = staticmethod(_asleep)

    def __init__(
        self,
        inner: Provider,
        *,
        limit: RateLimit,
        state: SharedState,
        key: str,
        wait: bool = True,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(inner)
        self.limit = limit
        self.state = state
        self.key = key
        self.wait = wait
        """Wait for room when the wait fits in the deadline; False: refuse at once (the caller decides)."""
        self.provider_name = provider or inner.name
        self.model = model
        self._caps: dict[str, Caps] = {}
        self._window: Window | None = None
        """The in-memory state's window for ``key``, kept once asked for (the state never replaces it):
        every call reserves and settles in it without the state's two lookups and calls."""
        # Reservation ids: unique across the processes sharing a window (the random prefix) without
        # asking the OS for randomness on every call.
        self._prefix = secrets.token_hex(6)
        self._ids = itertools.count()

    # -- the decision (pure) --------------------------------------------------------------------------

    def plan(self, admission: Admission, request: ModelRequest, ctx: CallContext, need: int) -> float:
        """Seconds to wait before asking again; raises :class:`RateLimited` when waiting cannot help."""
        where = {"provider": self.provider_name, "model": self.model or request.model, "local": True}
        if admission.source == "refused":
            raise RateLimited(
                "the shared rate limit cannot be checked: Redis is unreachable and state_failure = "
                "'fail_closed' refuses calls meanwhile; restore Redis or set "
                "state_failure = 'fail_open_local'",
                **where,  # type: ignore[arg-type]
            )
        if admission.wait is None:
            raise RateLimited(
                f"the call reserves {need} tokens (estimated input + max_tokens), more than the rate limit "
                f"admits per {self.limit.window:g}s window ({ctx.traffic} traffic): lower max_tokens, raise "
                "tpm or its share, or lengthen the window",
                **where,  # type: ignore[arg-type]
            )
        wait = max(admission.wait, _MIN_WAIT)
        left = ctx.remaining(self.clock()) if ctx.deadline is not None else None
        if not self.wait or (left is not None and wait >= left):
            raise RateLimited(
                f"steadyhand's rate limit for this target ({self._describe()}) has no room for "
                f"{wait:.2f}s; give the call more time, raise the limit or add a target to the alias",
                retry_after=wait,
                **where,  # type: ignore[arg-type]
            )
        return wait

    def _describe(self) -> str:
        parts = [f"{k} = {v}" for k, v in (("rpm", self.limit.rpm), ("tpm", self.limit.tpm)) if v is not None]
        return ", ".join(parts)

    def _caps_for(self, traffic: str) -> Caps:
        caps = self._caps.get(traffic)
        if caps is None:
            caps = self._caps[traffic] = self.limit.caps(traffic)
        return caps

    def _rid(self) -> str:
        return f"{self._prefix}{next(self._ids):x}"

    def _reserve(self, rid: str, need: int, ctx: CallContext) -> Admission:
        return self.state.reserve(
            self.key, rid, now=self.wall(), window=self.limit.window, caps=self._caps_for(ctx.traffic),
            need=need, traffic=ctx.traffic,
        )  # fmt: skip

    async def _areserve(self, rid: str, need: int, ctx: CallContext) -> Admission:
        return await self.state.areserve(
            self.key, rid, now=self.wall(), window=self.limit.window, caps=self._caps_for(ctx.traffic),
            need=need, traffic=ctx.traffic,
        )  # fmt: skip

    @staticmethod
    def _noted(ctx: CallContext, admission: Admission, waited: float) -> None:
        if ctx.span is not None:
            ctx.note("steadyhand.rate_limit", {"waited": waited, "state": admission.source})

    # -- the sync drivers -----------------------------------------------------------------------------

    def _local_window(self) -> Window | None:
        """The window itself when the state is the plain in-memory one (Redis keeps its own)."""
        if self._window is None and type(self.state) is SharedState:
            self._window = self.state._window(self.key)
        return self._window

    def _admit(self, request: ModelRequest, ctx: CallContext) -> Rid:
        limit, traffic = self.limit, ctx.traffic
        need, waited = reservation_tokens(request, limit), 0.0
        caps = self._caps.get(traffic) or self._caps_for(traffic)
        window = self._window or self._local_window()
        while True:  # the hot path of every limited call: the helpers inlined
            rid: Rid
            if window is not None:
                rid = next(_LOCAL_IDS)
                refused = window.take(rid, self.wall(), limit.window, caps, need, traffic)
                if refused is None:
                    if ctx.span is not None:
                        self._noted(ctx, _ADMITTED, waited)
                    return rid
                admission = refused
            else:
                rid = f"{self._prefix}{next(self._ids):x}"
                admission = self.state.reserve(
                    self.key, rid, now=self.wall(), window=limit.window, caps=caps, need=need, traffic=traffic
                )
            if admission.admitted:
                if ctx.span is not None:
                    self._noted(ctx, admission, waited)
                return rid
            if admission.source == "refused":
                self._noted(ctx, admission, waited)
            wait = self.plan(admission, request, ctx, need)
            self.sleep(wait)
            waited += wait

    def complete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        rid = self._admit(request, ctx)
        try:
            response = self.inner.complete(request, ctx=ctx)
        except BaseException:
            self._release(rid)
            raise
        if self.limit.tpm is not None:  # rpm only: no tokens to settle
            usage = response.usage  # _used inline: every limited call settles
            used = None if usage is None else usage.total_tokens
            if used is not None:
                window = self._window
                if window is not None and type(rid) is int:  # _settle inline
                    window.settle(rid, used)
                else:
                    self._settle(rid, used)
        return response

    def _settle(self, rid: Rid, used: int) -> None:
        if isinstance(rid, str):  # reserved through the state (Redis)
            self.state.settle(self.key, rid, used)
        else:  # in this process's window
            assert self._window is not None
            self._window.settle(rid, used)

    def _release(self, rid: Rid) -> None:
        if isinstance(rid, str):
            self.state.release(self.key, rid)
        else:
            assert self._window is not None
            self._window.release(rid)

    def stream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> Iterator[Chunk]:
        # A generator: admission happens when the first chunk is asked for, so a refusal is the
        # stream's first error (which the stream drivers fail over on), not the call's.
        rid = self._admit(request, ctx)
        iterator: Iterator[Chunk] | None = None
        used: int | None = None
        try:
            iterator = self.inner.stream(request, ctx=ctx)
            for chunk in iterator:
                used = _used(chunk.usage) if chunk.usage is not None else used
                yield chunk
        except BaseException:  # an error, or the caller closed the stream (GeneratorExit)
            self._release(rid)
            raise
        finally:
            close_iterator(iterator)
        if used is not None and self.limit.tpm is not None:  # rpm only: no tokens to settle
            self._settle(rid, used)

    # -- the async drivers ----------------------------------------------------------------------------

    async def _aadmit(self, request: ModelRequest, ctx: CallContext) -> str:
        need, waited = reservation_tokens(request, self.limit), 0.0
        while True:
            rid = self._rid()
            admission = await self._areserve(rid, need, ctx)
            if admission.admitted or admission.source == "refused":
                self._noted(ctx, admission, waited)
            if admission.admitted:
                return rid
            wait = self.plan(admission, request, ctx, need)
            await self.async_sleep(wait)
            waited += wait

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        rid = await self._aadmit(request, ctx)
        try:
            response = await self.inner.acomplete(request, ctx=ctx)
        except BaseException:  # also asyncio cancellation
            await self.state.arelease(self.key, rid)
            raise
        used = _used(response.usage)
        if used is not None and self.limit.tpm is not None:  # rpm only: no tokens to settle
            await self.state.asettle(self.key, rid, used)
        return response

    async def astream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> AsyncIterator[Chunk]:
        rid = await self._aadmit(request, ctx)
        iterator: AsyncIterator[Chunk] | None = None
        used: int | None = None
        try:
            iterator = self.inner.astream(request, ctx=ctx)
            async for chunk in iterator:
                used = _used(chunk.usage) if chunk.usage is not None else used
                yield chunk
        except BaseException:
            await self.state.arelease(self.key, rid)
            raise
        finally:
            await aclose_iterator(iterator)
        if used is not None and self.limit.tpm is not None:  # rpm only: no tokens to settle
            await self.state.asettle(self.key, rid, used)


def rate_limit(
    *,
    rpm: int | None = None,
    tpm: int | None = None,
    window: float = 60.0,
    shares: dict[str, float] | None = None,
    output_tokens: int = 1024,
    aliases: Collection[str] | None = None,
) -> Policy:
    """A client ``Policy`` limiting every alias's target (or only ``aliases``') to ``rpm``/``tpm``."""
    limit = RateLimit(rpm=rpm, tpm=tpm, window=window, shares=dict(shares or {}), output_tokens=output_tokens)

    def apply(provider: Provider, info: StackInfo) -> Provider:
        if aliases is not None and info.target.alias not in aliases:
            return provider
        target = info.target
        return RateLimiter(
            provider, limit=limit, state=info.state, key=limit_key(target.provider, target.model),
            provider=target.provider, model=target.model,
        )  # fmt: skip

    return apply
