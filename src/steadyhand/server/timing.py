"""How long a request waited on its upstream, so ``x-steadyhand-overhead-ms`` can be steadyhand's own time.

A transport wrapper adds the seconds spent inside the upstream's ``send`` and between stream pieces
to a per-request counter held in a context variable: each request is one task, so the counter is
the request's own even with thousands in flight. Overhead is then wall time minus upstream time:
request read to upstream write plus upstream read to client write, as the header promises.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from ..providers.base import AsyncHTTPStream, AsyncTransport, HTTPRequest, HTTPResponse
from ..timeouts import Timeouts

__all__ = ["TimedTransport", "Upstream", "upstream_clock"]


class Upstream:
    """The seconds one request spent waiting on upstreams."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0


_current: ContextVar[Upstream | None] = ContextVar("steadyhand_upstream_clock", default=None)


def upstream_clock() -> Upstream:
    """A fresh counter for the current task (call once at the start of a request)."""
    clock = Upstream()
    _current.set(clock)
    return clock


class TimedTransport:
    """An :class:`~steadyhand.providers.base.AsyncTransport` that times its inner transport's waits."""

    def __init__(self, inner: AsyncTransport) -> None:
        self.inner = inner

    async def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        start = time.perf_counter()
        try:
            return await self.inner.send(request, timeouts=timeouts)
        finally:
            clock = _current.get()
            if clock is not None:
                clock.seconds += time.perf_counter() - start

    @asynccontextmanager
    async def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> AsyncIterator[AsyncHTTPStream]:
        clock = _current.get()
        start = time.perf_counter()
        async with self.inner.stream(request, timeouts=timeouts) as opened:
            if clock is not None:
                clock.seconds += time.perf_counter() - start
            yield AsyncHTTPStream(opened.status_code, opened.headers, _timed(opened.chunks, clock))

    async def aclose(self) -> None:
        """A no-op: clients built on this transport come and go with reloads; the gateway owns it."""

    async def close_inner(self) -> None:
        await self.inner.aclose()


async def _timed(chunks: AsyncIterator[bytes], clock: Upstream | None) -> AsyncIterator[bytes]:
    if clock is None:
        async for data in chunks:
            yield data
        return
    while True:
        start = time.perf_counter()
        try:
            data = await anext(chunks)
        except StopAsyncIteration:
            clock.seconds += time.perf_counter() - start
            return
        clock.seconds += time.perf_counter() - start
        yield data
