"""An async transport over aiohttp (``async_transport = "aiohttp"``): the default before steadyhand's own
httptools one (``http_httptools.py``, less CPU per call), and still the one used when an ``HTTP(S)_PROXY``
variable is set, since it honours proxies. httpx's async pool degrades under concurrency (measured here:
~240 calls/s at 64 concurrent calls on one core, where aiohttp holds ~2,000; see
benchmarks/bench_async_concurrency.py).

Time limits (:class:`Timeouts`) mean what they mean for the httpx transports (``http.py``):

- ``connect`` is aiohttp's ``connect`` timeout, which covers waiting for a free pooled connection too;
- ``first_token`` bounds the wait for the response head, counted from when the request is written
  (``stall`` when unset);
- ``stall`` bounds every later read: the longest gap between two pieces of the body;
- ``total`` is a deadline for the whole call: each limit is capped at the budget left when it starts, and
  the deadline is checked again after every piece of a streamed body.

aiohttp's per-read timer (``sock_read``) is the gap limit: it is set to the head's limit for the request
and switched to the body's limit when the head arrives. Nothing from aiohttp leaves this module: its
errors become :class:`~steadyhand.ProviderConnectionError`, :class:`~steadyhand.ProviderTimeout` (with
the phase) or :class:`~steadyhand.StreamInterrupted` once the body has started.
"""

from __future__ import annotations

import asyncio
import functools
import urllib.request
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from ..errors import ConfigurationError, ProviderConnectionError, ProviderError
from ._clock import Clock
from ._http1_wire import exchange_error
from .base import AsyncHTTPStream, HTTPRequest, HTTPResponse, Timeouts

__all__ = ["AsyncAiohttpTransport"]

MAX_CONNECTIONS = 100
"""The pool's limit, as for the httpx transports; a call waits (within ``connect``) for a free one."""
KEEPALIVE_EXPIRY = 30.0
_MAX_FIELD = 65536
"""Longest response header line accepted (aiohttp's default, 8 KiB, is below what h11 lets through)."""


class _Clock(Clock):
    """The shared clock, told in aiohttp's terms."""

    __slots__ = ()

    def head_timeout(self) -> aiohttp.ClientTimeout:
        read = self.head_limit()
        return aiohttp.ClientTimeout(connect=self.connect_limit(read), sock_read=read)

    def body_timeout(self, response: aiohttp.ClientResponse, watch: _LossWatch) -> None:
        """The head arrived: switch the connection's read timer to the body's limit, restarting it now."""
        connection = response.connection
        protocol = None if connection is None else connection.protocol
        if protocol is None:  # the body was already read whole: there is no read left to limit
            self.phase = "stall"
            return
        protocol.read_timeout = self.body_limit()
        restart = getattr(protocol, "_reschedule_timeout", None)
        if restart is not None and not response.content.at_eof():
            restart()
        watch.watch(protocol, response.content)

    def error(self, exc: Exception, *, in_body: bool) -> ProviderError | ConfigurationError:
        """The steadyhand error for an aiohttp error; a connection lost mid-body is an interrupted stream."""
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return self.connect_timeout()
        if isinstance(exc, TimeoutError):  # SocketTimeoutError: a read ran out of time
            return self.read_timeout()
        if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
            return ConfigurationError(f"bad provider URL: {exc}; fix the provider's base_url")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return ProviderConnectionError(f"could not connect: {exc}; is the provider's base_url right?")
        return exchange_error(exc, self, in_body=in_body)


class _LossWatch:
    """Fails a body still being read when its connection is lost.

    aiohttp's C parser, given a malformed chunk after the head (seen with 3.14), closes the connection and
    drops the read timer but never tells the body, whose next read then waits forever; with this, that
    read raises and the call ends as an interrupted stream. One callback per connection, told which body
    is current, so a long-lived pooled connection does not collect one per request.
    """

    __slots__ = ("_current",)

    def __init__(self) -> None:
        self._current: weakref.WeakKeyDictionary[Any, aiohttp.StreamReader] = weakref.WeakKeyDictionary()

    def watch(self, protocol: Any, content: aiohttp.StreamReader) -> None:
        first = protocol not in self._current
        self._current[protocol] = content
        closed = protocol.closed if first else None
        if closed is not None:
            closed.add_done_callback(functools.partial(self._lost, weakref.ref(protocol)))

    def _lost(self, protocol: weakref.ref[Any], closed: asyncio.Future[None]) -> None:
        if not closed.cancelled():
            closed.exception()  # retrieved: a connection lost with an error is not an unhandled error
        alive = protocol()
        content = None if alive is None else self._current.pop(alive, None)
        if content is not None and not content.is_eof() and content.exception() is None:
            content.set_exception(aiohttp.ClientPayloadError("the connection closed before the answer ended"))


def _headers(response: aiohttp.ClientResponse) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.raw_headers}


def _finish(response: aiohttp.ClientResponse) -> None:
    """Give a fully read connection back to the pool; close one whose body was not read to the end, so
    the provider stops generating (a stream closed early, a cancelled task)."""
    if response.content.at_eof():
        response.release()
    else:
        response.close()


class AsyncAiohttpTransport:
    """Asynchronous :class:`~steadyhand.providers.base.AsyncTransport` over one pooled ``aiohttp`` session.

    The session is made on first use, inside the running event loop (aiohttp binds it to that loop), with
    no cookie jar (one provider's pool serves every caller: no answer's cookies may reach another call)
    and, as httpx does, proxies from ``HTTP(S)_PROXY`` when they are set. Pass ``session`` to bring your
    own; it is closed with this transport.
    """

    def __init__(self, session: aiohttp.ClientSession | None = None) -> None:
        self._session = session
        self._watch = _LossWatch()

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_EXPIRY),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(),
                trust_env=bool(urllib.request.getproxies()),
                max_line_size=_MAX_FIELD,
                max_field_size=_MAX_FIELD,
            )
        return session

    async def _open(self, request: HTTPRequest, clock: _Clock) -> aiohttp.ClientResponse:
        return await self._client().request(
            request.method,
            request.url,
            data=request.body,
            headers=request.headers,
            allow_redirects=False,
            timeout=clock.head_timeout(),
        )

    async def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        clock = _Clock(timeouts)
        resp = None
        try:
            resp = await self._open(request, clock)
            clock.body_timeout(resp, self._watch)
            body = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise clock.error(exc, in_body=resp is not None) from exc
        finally:
            if resp is not None:
                _finish(resp)
        return HTTPResponse(resp.status, _headers(resp), body)

    @asynccontextmanager
    async def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> AsyncIterator[AsyncHTTPStream]:
        clock = _Clock(timeouts)
        try:
            resp = await self._open(request, clock)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise clock.error(exc, in_body=False) from exc
        try:
            clock.body_timeout(resp, self._watch)
            yield AsyncHTTPStream(resp.status, _headers(resp), self._chunks(resp, clock))
        finally:
            _finish(resp)

    @staticmethod
    async def _chunks(resp: aiohttp.ClientResponse, clock: _Clock) -> AsyncIterator[bytes]:
        try:
            while data := await resp.content.readany():
                clock.check()
                yield data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise clock.error(exc, in_body=True) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
