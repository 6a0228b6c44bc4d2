"""A sync :class:`~steadyhand.providers.base.Transport` driven from async tests: each call (and each read
of a stream) runs in a worker thread, so the raw servers on the test's event loop keep serving. It lets
the transport suites run every case against the sync transports too, the same cases, not copies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from steadyhand import Timeouts
from steadyhand.providers import AsyncHTTPStream, HTTPRequest, HTTPResponse, Transport


class Threaded:
    """``inner``'s calls, awaited."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    async def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        return await asyncio.to_thread(self.inner.send, request, timeouts=timeouts)

    @asynccontextmanager
    async def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> AsyncIterator[AsyncHTTPStream]:
        opened = self.inner.stream(request, timeouts=timeouts)
        response = await asyncio.to_thread(opened.__enter__)
        try:
            yield AsyncHTTPStream(response.status_code, response.headers, _read(iter(response.chunks)))
        finally:
            await asyncio.to_thread(opened.__exit__, None, None, None)

    async def aclose(self) -> None:
        self.inner.close()


async def _read(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    while (data := await asyncio.to_thread(next, chunks, None)) is not None:
        yield data
