"""Degraded mode: when every option is exhausted, answer with something instead of an error.

A feature that cannot reach any model should degrade, not break: :class:`Degraded` wraps an alias's
whole stack (outside the cache and the retry/fallback policy) and, when the call ends with an error
that says the providers are unavailable (:func:`degrades`), returns in its place, in this order:

1. the last answer the exact cache stored for this request, even past its ``ttl``, when
   ``from_cache`` is given (no older than ``max_age`` seconds);
2. ``answer``: a fixed text, or a callable ``(request, error) -> str | ModelResponse`` (an ``async``
   one under :class:`~steadyhand.AsyncClient`).

The response is marked ``response.degraded = True`` (and ``route.degraded``), the ``llm`` span
notes ``steadyhand.degraded`` with the error it replaced, and it is never stored in the cache nor
billed. A request the provider refused (a 400, a content filter, a context window, a bad key) is
the caller's to fix: it is raised, not papered over. A stream degrades only before its first chunk;
once text was shown, a failure is the caller's (``StreamInterrupted`` keeps the partial text).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import Any

from ..context import NO_CONTEXT, CallContext
from ..errors import CircuitOpen, DeadlineExceeded, ProviderError, QuotaExhausted, RateLimited
from ..providers.base import Provider
from ..providers.wrapper import WrapperProvider
from ..types import Choice, Chunk, Message, ModelRequest, ModelResponse, Usage
from .breaker import counts_against
from .cache_entry import response_chunks
from .caching import Cache
from .driver import aclose_iterator, close_iterator, has_content
from .route import Route
from .stack import Policy, StackInfo

__all__ = ["DEGRADED_MODEL", "Degraded", "DegradedAnswer", "degraded", "degrades"]

DegradedAnswer = str | Callable[[ModelRequest, ProviderError], Any]
"""A fixed text, or ``(request, error) -> str | ModelResponse`` (may be ``async``)."""
DEGRADED_MODEL = "degraded"
"""``response.model`` of a fixed or computed degraded answer (its ``provider`` is ``steadyhand``)."""


def degrades(error: BaseException) -> bool:
    """Whether ``error`` means no provider could answer (so a degraded answer may stand in)."""
    if isinstance(error, DeadlineExceeded | CircuitOpen | QuotaExhausted | RateLimited):
        return True
    return isinstance(error, ProviderError) and counts_against(error)


class Degraded(WrapperProvider):
    """Returns a degraded answer instead of an unavailability error; see the module docstring."""

    def __init__(
        self,
        inner: Provider,
        info: StackInfo,
        *,
        answer: DegradedAnswer | None = None,
        from_cache: Cache | None = None,
        max_age: float = 86_400.0,
    ) -> None:
        super().__init__(inner)
        self.info = info
        self.answer = answer
        self.from_cache = from_cache
        self.max_age = max_age

    def _from_cache_entry(self, request: ModelRequest, entry: Any) -> ModelResponse | None:
        if entry is None or time.time() - entry.stored_at > self.max_age:
            return None
        response: ModelResponse = entry.response
        return response

    def _fixed(self, text: str) -> ModelResponse:
        return ModelResponse(
            id=f"degraded-{time.time_ns():x}",
            model=DEGRADED_MODEL,
            provider="steadyhand",
            choices=[Choice(message=Message(role="assistant", content=text), finish_reason="stop")],
            usage=Usage(input_tokens=0, output_tokens=0),
        )

    def _computed(self, value: Any) -> ModelResponse:
        if isinstance(value, ModelResponse):
            return value
        if isinstance(value, str):
            return self._fixed(value)
        raise TypeError(f"a degraded answer callable must return a str or a ModelResponse, not {value!r}")

    def _mark(
        self, response: ModelResponse, error: ProviderError, ctx: CallContext, source: str
    ) -> ModelResponse:
        route = getattr(error, "route", None)
        if not isinstance(route, Route):
            route = Route()
        route.degraded = True
        route.answered_by = f"{response.provider}:{response.model}"
        ctx.note(
            "steadyhand.degraded",
            {"source": source, "error_type": type(error).__name__, "error_message": str(error)},
        )
        if ctx.span is not None:  # built only for a traced call
            ctx.span.note("steadyhand.route", route.as_dict())
        if ctx.span is not None:
            ctx.span.answered_by(response.provider, response.model)
        if ctx.report is not None:
            ctx.report.route = route
            ctx.report.degraded = True
        return response.model_copy(update={"route": route, "degraded": True})

    def _sync_answer(self, request: ModelRequest, error: ProviderError, ctx: CallContext) -> ModelResponse:
        if self.from_cache is not None:
            cached = self._from_cache_entry(request, self.from_cache.stale(request))
            if cached is not None:
                return self._mark(cached, error, ctx, "cache")
        if isinstance(self.answer, str):
            return self._mark(self._fixed(self.answer), error, ctx, "static")
        if self.answer is not None:
            value = self.answer(request, error)
            if inspect.isawaitable(value):
                close = getattr(value, "close", None)
                if close is not None:
                    close()  # never awaited: say so instead of a "coroutine was never awaited" warning
                raise TypeError("an async degraded answer needs an AsyncClient; give Client a plain function")
            return self._mark(self._computed(value), error, ctx, "callable")
        raise error

    async def _async_answer(
        self, request: ModelRequest, error: ProviderError, ctx: CallContext
    ) -> ModelResponse:
        if self.from_cache is not None:
            cached = self._from_cache_entry(request, await self.from_cache.astale(request))
            if cached is not None:
                return self._mark(cached, error, ctx, "cache")
        if isinstance(self.answer, str):
            return self._mark(self._fixed(self.answer), error, ctx, "static")
        if self.answer is not None:
            value = self.answer(request, error)
            if inspect.isawaitable(value):
                value = await value
            return self._mark(self._computed(value), error, ctx, "callable")
        raise error

    def complete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        try:
            return self.inner.complete(request, ctx=ctx)
        except ProviderError as error:
            if not degrades(error):
                raise
            return self._sync_answer(request, error, ctx)

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        try:
            return await self.inner.acomplete(request, ctx=ctx)
        except ProviderError as error:
            if not degrades(error):
                raise
            return await self._async_answer(request, error, ctx)

    def stream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> Iterator[Chunk]:
        iterator = self.inner.stream(request, ctx=ctx)
        started = False
        try:
            try:
                for chunk in iterator:
                    started = started or has_content(chunk)
                    yield chunk
            except ProviderError as error:
                if started or not degrades(error):
                    raise
                yield from response_chunks(self._sync_answer(request, error, ctx))
        finally:
            close_iterator(iterator)

    def astream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> AsyncIterator[Chunk]:
        return self._astream(request, ctx)

    async def _astream(self, request: ModelRequest, ctx: CallContext) -> AsyncIterator[Chunk]:
        iterator = self.inner.astream(request, ctx=ctx)
        started = False
        try:
            try:
                async for chunk in iterator:
                    started = started or has_content(chunk)
                    yield chunk
            except ProviderError as error:
                if started or not degrades(error):
                    raise
                for chunk in response_chunks(await self._async_answer(request, error, ctx)):
                    yield chunk
        finally:
            await aclose_iterator(iterator)


def degraded(
    answer: DegradedAnswer | None = None,
    *,
    from_cache: bool = False,
    max_age: float = 86_400.0,
    aliases: Collection[str] | None = None,
) -> Policy:
    """A client ``Policy``: degrade every alias (or only ``aliases``) to ``answer``.

    ``from_cache=True`` first tries the last cached answer, from the :class:`Cache` directly inside
    (put this policy after ``cache(...)`` in ``policies=``, or configure the alias's ``cache``).
    """

    def apply(provider: Provider, info: StackInfo) -> Provider:
        if aliases is not None and info.target.alias not in aliases:
            return provider
        source = _cache_inside(provider) if from_cache else None
        return Degraded(provider, info, answer=answer, from_cache=source, max_age=max_age)

    return apply


def _cache_inside(provider: Provider) -> Cache | None:
    """The nearest :class:`Cache` in a stack of wrappers, if any."""
    while isinstance(provider, WrapperProvider):
        if isinstance(provider, Cache):
            return provider
        provider = provider.inner
    return None
