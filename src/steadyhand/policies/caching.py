"""The exact cache: the same request to the same target gets the stored answer, without a request.

:class:`Cache` wraps an alias's provider stack (outside the retry/fallback policy, so a fallback's
answer is stored under the request, tagged with the model that produced it). It looks the request
up by :func:`~steadyhand.policies.cache_keys.cache_key`; on a hit it returns the stored answer (a
stream replays it as a stream) with ``route.cache_hit`` set, and the call is not billed; on a miss
it asks the provider and keeps the answer for ``ttl`` seconds when it is complete
(:func:`~steadyhand.policies.cache_keys.keepable`). Errors are never stored. ``client.chat(...,
cache=False)`` skips both the lookup and the store for one call.

Entries may be kept past ``ttl`` (``keep_stale``) only so that degraded mode can serve the last
answer when the provider is down (:mod:`steadyhand.policies.degradation`); a lookup never returns them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from typing import TYPE_CHECKING

from ..context import NO_CONTEXT, CallContext
from ..errors import ConfigurationError
from ..providers._common import assemble
from ..providers.base import Provider
from ..providers.wrapper import WrapperProvider
from ..types import Chunk, ModelRequest, ModelResponse
from .cache_entry import Entry, decode, encode_answer, response_chunks
from .cache_keys import cache_key, keepable
from .cache_store import ByteState, CacheStore, StateCacheStore, open_cache_store
from .driver import with_route
from .route import Route
from .stack import Policy, StackInfo

if TYPE_CHECKING:
    from .._config import Config

__all__ = ["Cache", "cache", "store_for"]


def store_for(info: StackInfo, url: str | None = None) -> CacheStore:
    """The cache store the config names, one per :class:`SharedState` (so clients sharing state share it).

    ``url`` (else the config's ``cache_url``, else the shared state itself when ``state_url`` names
    Redis and the state keeps bytes, else Redis at ``state_url``, else the SQLite file
    ``.steadyhand/cache.db``).
    """
    chosen = url or cache_url(info.config)
    state = info.state
    if url is None and not info.config.cache_url and chosen is not None and isinstance(state, ByteState):
        return state.get("steadyhand.cache.store:state", lambda: StateCacheStore(state))
    return state.get(f"steadyhand.cache.store:{chosen}", lambda: open_cache_store(chosen))


def cache_url(config: Config) -> str | None:
    """Where a config's cache lives: ``cache_url``, else a ``redis://`` ``state_url``, else ``None``."""
    if config.cache_url:
        return config.cache_url
    state = getattr(config, "state_url", None)
    if isinstance(state, str) and state.startswith(("redis://", "rediss://", "unix://")):
        return state
    return None


class Cache(WrapperProvider):
    """Answers repeated requests from ``store``; see the module docstring."""

    def __init__(
        self,
        inner: Provider,
        info: StackInfo,
        *,
        store: CacheStore,
        ttl: float = 3600.0,
        sampled: bool = False,
        keep_stale: float = 0.0,
    ) -> None:
        super().__init__(inner)
        if isinstance(ttl, bool) or not ttl > 0 or not keep_stale >= 0:
            raise ConfigurationError(f"cache ttl must be a positive number of seconds, not {ttl!r}")
        self.info = info
        self.store = store
        self.ttl = ttl
        self.sampled = sampled
        self.keep_stale = keep_stale
        provider = info.config.all_providers().get(info.target.provider)
        self._kind = None if provider is None else provider.kind
        self._own = f"{info.target.provider}:{info.target.model}"
        """Who answers when no policy inside says otherwise: the alias's own target."""
        self._keep = ttl + keep_stale
        """How long the store keeps an entry: fresh for ``ttl``, then stale for degraded mode."""

    # -- the decision (shared by the four call shapes) -------------------------------------------------

    def _key(self, request: ModelRequest, ctx: CallContext) -> tuple[str | None, str]:
        """``(key, why)``: the key to look up, or ``None`` and why the cache stays out of this call."""
        if not ctx.cache:
            return None, "off"
        temperature = request.temperature  # skip_reason inline: every cached call asks
        if temperature is not None and temperature > 0 and not self.sampled:
            return None, "sampled"
        return cache_key(self.info.target, request, kind=self._kind), "miss"

    def key(self, request: ModelRequest) -> str:
        """The key ``request`` is stored under (for degraded mode and for tests)."""
        return cache_key(self.info.target, request, kind=self._kind)

    def stale(self, request: ModelRequest) -> Entry | None:
        """The stored answer for ``request`` even if it is past its ``ttl`` (degraded mode's source)."""
        return decode(self.store.get(self.key(request)))

    async def astale(self, request: ModelRequest) -> Entry | None:
        return decode(await self.store.aget(self.key(request)))

    def _fresh(self, data: bytes | None) -> Entry | None:
        entry = decode(data)
        return entry if entry is not None and entry.fresh() else None

    def _hit(self, entry: Entry, ctx: CallContext, started: float) -> Route:
        route = Route(ended_by="answer", answered_by=entry.answered_by, cache_hit=True, cache="hit")
        left = ctx.remaining()
        route.deadline_left = left
        route.overhead = time.monotonic() - started
        provider, _, model = entry.answered_by.partition(":")
        if ctx.span is not None:
            ctx.span.answered_by(provider, model)
        self._note(route, ctx)
        return route

    @staticmethod
    def _note(route: Route, ctx: CallContext) -> None:
        if ctx.span is not None:  # built only for a traced call
            ctx.span.note("steadyhand.cache", route.cache)
            ctx.span.note("steadyhand.route", route.as_dict())
        if ctx.report is not None:
            ctx.report.route = route

    def _route_of(self, response: ModelResponse | None, ctx: CallContext, why: str) -> Route:
        """The inner policies' route (or a new one), saying what the cache did."""
        report = ctx.report
        route = None if response is None else response.route
        if not isinstance(route, Route):
            route = report.route if report is not None else None
            if not isinstance(route, Route):  # no policy inside: the target itself answered
                route = Route(ended_by="answer", answered_by=self._own)
        route.cache = why
        if ctx.span is not None:
            self._note(route, ctx)
        elif report is not None:  # the untraced call: _note inline
            report.route = route
        return route

    def _entry(self, response: ModelResponse, route: Route, chunks: Sequence[Chunk]) -> bytes:
        """A streamed answer's entry, its chunks kept to replay as they came (the route is not stored)."""
        now = time.time()
        return encode_answer(response, route.answered_by or self._own, now, now + self.ttl, chunks)

    # -- complete ---------------------------------------------------------------------------------

    def complete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        started = time.monotonic()
        key, why = self._key(request, ctx)
        if key is not None:
            found = self.store.get(key)
            entry = None if found is None else self._fresh(found)  # a miss decodes nothing
            if entry is not None:
                return with_route(entry.response, self._hit(entry, ctx, started))
        response, data = self._settle(self.inner.complete(request, ctx=ctx), ctx, key, why)
        if key is not None and data is not None:
            self.store.set(key, data, self._keep)
        return response

    def _settle(
        self, response: ModelResponse, ctx: CallContext, key: str | None, why: str
    ) -> tuple[ModelResponse, bytes | None]:
        """The answer with its route, and the entry to store (``None``: not to be kept)."""
        route = self._route_of(response, ctx, why)
        data = None
        if key is not None and keepable(response):
            now = time.time()  # the route is not stored
            data = encode_answer(response, route.answered_by or self._own, now, now + self.ttl)
        if response.route is not route:
            response = with_route(response, route)
        return response, data

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        started = time.monotonic()
        key, why = self._key(request, ctx)
        if key is not None:
            found = await self.store.aget(key)
            entry = None if found is None else self._fresh(found)
            if entry is not None:
                return with_route(entry.response, self._hit(entry, ctx, started))
        response, data = self._settle(await self.inner.acomplete(request, ctx=ctx), ctx, key, why)
        if key is not None and data is not None:
            await self.store.aset(key, data, self._keep)
        return response

    # -- streams ----------------------------------------------------------------------------------

    def _replay(self, entry: Entry) -> Sequence[Chunk]:
        return entry.chunks if entry.chunks is not None else response_chunks(entry.response)

    def _assembled(self, chunks: Sequence[Chunk], request: ModelRequest) -> ModelResponse:
        return assemble(chunks, provider=self.info.target.provider, model=request.model)

    def stream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> Iterator[Chunk]:
        started = time.monotonic()
        key, why = self._key(request, ctx)
        if key is not None:
            entry = self._fresh(self.store.get(key))
            if entry is not None:
                self._hit(entry, ctx, started)
                return iter(self._replay(entry))
        return self._recorded(request, ctx, key, why)

    def _recorded(
        self, request: ModelRequest, ctx: CallContext, key: str | None, why: str
    ) -> Iterator[Chunk]:
        seen: list[Chunk] = []
        iterator = self.inner.stream(request, ctx=ctx)
        try:
            for chunk in iterator:
                seen.append(chunk)
                yield chunk
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        # Only a stream read to its end gets here (an error or an early close leaves above).
        response = self._assembled(seen, request)
        route = self._route_of(None, ctx, why)
        if key is not None and keepable(response):
            self.store.set(key, self._entry(response, route, seen), self._keep)

    def astream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> AsyncIterator[Chunk]:
        return self._astream(request, ctx)

    async def _astream(self, request: ModelRequest, ctx: CallContext) -> AsyncIterator[Chunk]:
        started = time.monotonic()
        key, why = self._key(request, ctx)
        if key is not None:
            entry = self._fresh(await self.store.aget(key))
            if entry is not None:
                self._hit(entry, ctx, started)
                for chunk in self._replay(entry):
                    yield chunk
                return
        seen: list[Chunk] = []
        iterator = self.inner.astream(request, ctx=ctx)
        try:
            async for chunk in iterator:
                seen.append(chunk)
                yield chunk
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        response = self._assembled(seen, request)
        route = self._route_of(None, ctx, why)
        if key is not None and keepable(response):
            await self.store.aset(key, self._entry(response, route, seen), self._keep)


def cache(
    *,
    ttl: float = 3600.0,
    sampled: bool = False,
    store: CacheStore | None = None,
    url: str | None = None,
    keep_stale: float = 0.0,
    aliases: Collection[str] | None = None,
) -> Policy:
    """A client ``Policy`` caching every alias (or only ``aliases``) in ``store`` (else ``url``, else
    the config's cache store: see :func:`store_for`). ``keep_stale`` keeps entries that many seconds
    past ``ttl`` for ``degraded(from_cache=True)``."""

    def apply(provider: Provider, info: StackInfo) -> Provider:
        if aliases is not None and info.target.alias not in aliases:
            return provider
        chosen = store if store is not None else store_for(info, url)
        return Cache(provider, info, store=chosen, ttl=ttl, sampled=sampled, keep_stale=keep_stale)

    return apply
