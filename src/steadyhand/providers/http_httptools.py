"""The default async transport: steadyhand's own lean HTTP/1.1 client on asyncio protocols and httptools.

aiohttp's client cost a large share of the gateway's CPU per request (issue 15); this one does only what
a provider call needs: one keep-alive pool (at most ``MAX_CONNECTIONS`` connections in use, idle ones kept
``KEEPALIVE_EXPIRY`` seconds, per origin), TCP_NODELAY, TLS with the system's trust store and ALPN
``http/1.1`` (or the ``ssl_context`` given), request bodies with Content-Length, responses framed by
Content-Length, chunked or the connection's close, bodies streamed with back-pressure (reading pauses
while the consumer lags).

Time limits (:class:`Timeouts`) mean what they mean for the aiohttp transport (``http_aiohttp.py``):
``connect`` covers waiting for a free pooled connection and connecting; ``first_token`` (``stall`` when
unset) is the longest wait for a byte of the response head, counted from when the request is written;
``stall`` the longest gap between two pieces of the body; ``total`` a deadline for the whole call. Errors
are mapped as there: :class:`~steadyhand.ProviderConnectionError` before the head,
:class:`~steadyhand.StreamInterrupted` after it, :class:`~steadyhand.ProviderTimeout` with the phase.

A connection whose answer was not read to its end (a stream closed early, a cancelled task, a failure)
is closed, never pooled, so the provider stops generating. A reused connection that fails before any
byte of the answer (the server closed it while idle) is retried once on a fresh connection. No proxies:
:func:`~steadyhand.providers.http_provider.default_async_transport` picks aiohttp instead when an
``HTTP(S)_PROXY``-style variable is set. It sends no ``Accept-Encoding`` (answers come uncompressed) but
decodes a gzip or deflate body a server sends anyway.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..errors import ProviderConnectionError
from ._clock import Clock
from ._http1 import Connection
from ._http1_wire import (
    KEEPALIVE_EXPIRY,
    MAX_CONNECTIONS,
    Target,
    body_decoder,
    cached_target,
    decode_body,
    describe,
    encode_request,
    exchange_error,
    tls_context,
)
from .base import AsyncHTTPStream, HTTPRequest, HTTPResponse, Timeouts

__all__ = ["AsyncHttptoolsTransport"]


class AsyncHttptoolsTransport:
    """Asynchronous :class:`~steadyhand.providers.base.AsyncTransport` over one pool of raw connections.

    The pool belongs to the event loop that uses it (a call from another loop starts a fresh one).
    ``ssl_context`` verifies https origins (default: the system's trust store, made on first use).
    After :meth:`aclose` the transport still works: it opens new connections.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = MAX_CONNECTIONS,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
    ) -> None:
        self._ssl = ssl_context
        self._limit = max_connections
        self._expiry = keepalive_expiry
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: dict[tuple[str, str, int], collections.deque[Connection]] = {}
        self._active = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._generation = 0

    # -- the pool -------------------------------------------------------------------------------------------

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """A new event loop: connections of the old one cannot be used from it, so they are dropped."""
        for idle in self._idle.values():
            for conn in idle:
                if conn.loop.is_closed():  # nothing can close it now: the garbage collector will
                    conn.close()
                else:
                    conn.loop.call_soon_threadsafe(conn.close)
        self._idle, self._active, self._waiters = {}, 0, collections.deque()
        self._generation += 1
        self._loop = loop

    def _pop_idle(self, key: tuple[str, str, int]) -> Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.closed or conn.transport is None or conn.transport.is_closing():
                continue
            if conn.time() - conn.idle_since > self._expiry:  # the newest is too old: so are the rest
                conn.close()
                for old in idle:
                    old.close()
                idle.clear()
                return None
            return conn
        return None

    async def _checkout(self, target: Target, clock: Clock, *, fresh: bool) -> Connection:
        """A pooled connection to ``target``, else a new one, waiting (within ``connect``) for a slot."""
        if not fresh and self._active < self._limit and not self._waiters:
            conn = self._pop_idle(target.key)
            if conn is not None:
                self._active += 1
                return conn
        async with asyncio.timeout(clock.connect_limit(clock.head_limit())):
            while self._active >= self._limit:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                except BaseException:
                    if waiter.done() and not waiter.cancelled():
                        self._wake_next()  # handed a free slot while giving up: pass it on
                    else:
                        self._waiters.remove(waiter)
                    raise
            self._active += 1
            try:
                conn = None if fresh else self._pop_idle(target.key)
                return conn or await self._connect(target)
            except BaseException:
                self._active -= 1
                self._wake_next()
                raise

    async def _connect(self, target: Target) -> Connection:
        loop = asyncio.get_running_loop()
        conn = Connection(loop, target.key, self._generation)
        if target.tls:
            if self._ssl is None:
                self._ssl = tls_context()
            await loop.create_connection(lambda: conn, target.host, target.port, ssl=self._ssl)
        else:
            await loop.create_connection(lambda: conn, target.host, target.port)
        return conn

    def _wake_next(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, conn: Connection, reuse: bool) -> None:
        """Give ``conn`` back: to the idle pool when its answer was read whole, else closed."""
        if conn.generation != self._generation:
            conn.close()
            return
        self._active -= 1
        conn.active = False
        if reuse and not conn.closed and conn.exc is None:
            conn.reused = True
            conn.idle_since = conn.time()
            idle = self._idle.get(conn.key)
            if idle is None:
                idle = self._idle[conn.key] = collections.deque()
            while idle and conn.idle_since - idle[0].idle_since > self._expiry:
                idle.popleft().close()
            idle.append(conn)
        else:
            conn.close()
        if self._waiters:
            self._wake_next()

    # -- one exchange ---------------------------------------------------------------------------------------

    async def _exchange(self, request: HTTPRequest, clock: Clock, *, streaming: bool) -> Connection:
        """Send ``request``; return its connection once the head (``streaming``) or the whole answer is in.

        A reused connection that fails before any byte of the answer is retried once on a fresh one.
        """
        target = cached_target(request.url)
        payload = encode_request(request, target)
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        t = clock.timeouts
        head, phase = (t.first_token, "first_token") if t.first_token is not None else (t.stall, "stall")
        deadline = None if clock.deadline is None else loop.time() + (clock.deadline - time.monotonic())
        fresh = False
        while True:
            try:
                conn = await self._checkout(target, clock, fresh=fresh)
            except TimeoutError:
                raise clock.connect_timeout() from None
            except OSError as exc:
                raise ProviderConnectionError(
                    f"could not connect: {describe(exc)}; is the provider's base_url right?"
                ) from exc
            conn.begin(streaming, head, phase, t.stall, deadline)
            conn.bodiless = request.method == "HEAD"
            assert conn.transport is not None
            conn.transport.write(payload)
            try:
                if streaming:
                    while not conn.head_done and conn.exc is None:
                        await conn.wait()
                else:
                    while not conn.complete and conn.exc is None:
                        await conn.wait()
            except BaseException:
                self._release(conn, False)
                raise
            failure = conn.exc
            if failure is None or (streaming and conn.head_done):
                return conn
            self._release(conn, False)
            if fresh or not conn.reused or conn.got_bytes or not isinstance(failure, ConnectionError):
                raise exchange_error(failure, clock, in_body=conn.head_done) from failure
            fresh = True  # a stale pooled connection: once more on a new one

    async def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        clock = Clock(timeouts)
        conn = await self._exchange(request, clock, streaming=False)
        status, headers, pieces = conn.status, conn.headers, conn.body
        self._release(conn, conn.keep)
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        decode = body_decoder(headers) if "content-encoding" in headers else None
        return HTTPResponse(status, headers, body if decode is None else decode_body(decode, body))

    @asynccontextmanager
    async def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> AsyncIterator[AsyncHTTPStream]:
        clock = Clock(timeouts)
        conn = await self._exchange(request, clock, streaming=True)
        try:
            yield AsyncHTTPStream(conn.status, conn.headers, _chunks(conn, clock))
        finally:
            self._release(conn, conn.complete and conn.keep)

    async def aclose(self) -> None:
        """Close the idle connections; those in use close when their calls end."""
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        waiters = self._waiters
        self._idle, self._active, self._waiters = {}, 0, collections.deque()
        self._generation += 1
        for waiter in waiters:  # they look again, at the new pool
            if not waiter.done():
                waiter.set_result(None)


async def _chunks(conn: Connection, clock: Clock) -> AsyncIterator[bytes]:
    decode = body_decoder(conn.headers) if "content-encoding" in conn.headers else None
    while True:
        if conn.body:
            data = conn.take()
            clock.check()
            yield data if decode is None else decode_body(decode, data)
        elif conn.exc is not None:
            raise exchange_error(conn.exc, clock, in_body=True) from conn.exc
        elif conn.complete:
            return
        else:
            await conn.wait()
