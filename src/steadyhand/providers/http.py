"""Transports over httpx: pooled keep-alive connections, steadyhand's time limits, typed errors.

Time limits (:class:`Timeouts`) map onto httpx like this:

- ``connect`` is httpx's connect (and pool) timeout;
- ``first_token`` bounds the wait for the response head, the first byte of the answer (``stall`` when unset);
- ``stall`` bounds every later read (and writes): the longest gap between two pieces of the body;
- ``total`` is a deadline for the whole call: each read's limit is capped at the budget left when it
  starts, and the deadline is checked again after every piece of a streamed body.

The clients this module builds ignore cookies (``Set-Cookie`` is not kept or sent back).
httpx reads the body's read limit once, when the body starts, so a body read can overrun ``total`` by
at most the time already spent on the body. No httpx exception leaves this module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx

from ..errors import (
    ConfigurationError,
    ProviderConnectionError,
    ProviderError,
    StreamInterrupted,
)
from ._clock import Clock, min_limit
from .base import AsyncHTTPStream, HTTPRequest, HTTPResponse, HTTPStream, Timeouts

__all__ = ["AsyncHttpxTransport", "HttpxTransport"]

_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0)


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: model APIs authenticate by header, and reading every response's
    headers into the stdlib's cookie machinery is a measurable share of a call's CPU."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


def _client_without_cookies(client: httpx.Client | httpx.AsyncClient) -> None:
    """Make a client this module built ignore ``Set-Cookie`` (httpx has no switch; its setter would
    wrap the jar in a plain ``Cookies``, so the attribute is set directly)."""
    client._cookies = _NoCookies()


class _Clock(Clock):
    """The shared clock, told in httpx's terms: a timeout dict per request, httpx errors mapped."""

    __slots__ = ()

    def head_timeout(self) -> dict[str, float | None]:
        """The limits for connecting and waiting for the response head."""
        read = self.head_limit()
        connect = self.connect_limit(read)
        return {
            "connect": connect,
            "read": read,
            "write": min_limit(self.timeouts.stall, read),
            "pool": connect,
        }

    def body_timeout(self, request: httpx.Request) -> None:
        """The head arrived: later reads are limited by ``stall`` (and what is left of ``total``)."""
        request.extensions["timeout"]["read"] = self.body_limit()

    def error(self, exc: Exception, *, in_body: bool) -> ProviderError | ConfigurationError:
        """The steadyhand error for an httpx error; a connection lost mid-body is an interrupted stream."""
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return self.connect_timeout()
        if isinstance(exc, httpx.TimeoutException):
            return self.read_timeout()
        if isinstance(exc, httpx.ConnectError):
            return ProviderConnectionError(f"could not connect: {exc}; is the provider's base_url right?")
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return ConfigurationError(f"bad provider URL: {exc}; fix the provider's base_url")
        if in_body:
            return StreamInterrupted(f"the connection closed mid-answer: {exc}")
        return ProviderConnectionError(f"the connection failed before an answer arrived: {exc}")


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers.raw}


def _build(client: httpx.Client | httpx.AsyncClient, request: HTTPRequest, clock: _Clock) -> httpx.Request:
    return client.build_request(
        request.method,
        request.url,
        content=request.body,
        headers=dict(request.headers),
        extensions={"timeout": clock.head_timeout()},
    )


class HttpxTransport:
    """Synchronous :class:`~steadyhand.providers.base.Transport` over one pooled ``httpx.Client``.

    Pass ``client`` to bring your own (e.g. with ``httpx.MockTransport``); it is closed with this one.
    """

    def __init__(self, client: httpx.Client | None = None) -> None:
        if client is None:
            client = httpx.Client(limits=_LIMITS, timeout=None)
            _client_without_cookies(client)
        self._client = client

    def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        clock = _Clock(timeouts)
        resp = None
        try:
            req = _build(self._client, request, clock)
            resp = self._client.send(req, stream=True)
            clock.body_timeout(req)
            body = resp.read()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise clock.error(exc, in_body=resp is not None) from exc
        finally:
            if resp is not None:
                resp.close()
        return HTTPResponse(resp.status_code, _headers(resp), body)

    @contextmanager
    def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> Iterator[HTTPStream]:
        clock = _Clock(timeouts)
        try:
            req = _build(self._client, request, clock)
            resp = self._client.send(req, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise clock.error(exc, in_body=False) from exc
        try:
            clock.body_timeout(req)
            yield HTTPStream(resp.status_code, _headers(resp), self._chunks(resp, clock))
        finally:
            resp.close()

    @staticmethod
    def _chunks(resp: httpx.Response, clock: _Clock) -> Iterator[bytes]:
        try:
            for data in resp.iter_raw():
                clock.check()
                yield data
        except httpx.HTTPError as exc:
            raise clock.error(exc, in_body=True) from exc

    def close(self) -> None:
        self._client.close()


class AsyncHttpxTransport:
    """Asynchronous :class:`~steadyhand.providers.base.AsyncTransport` over one ``httpx.AsyncClient``."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        if client is None:
            client = httpx.AsyncClient(limits=_LIMITS, timeout=None)
            _client_without_cookies(client)
        self._client = client

    async def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        clock = _Clock(timeouts)
        resp = None
        try:
            req = _build(self._client, request, clock)
            resp = await self._client.send(req, stream=True)
            clock.body_timeout(req)
            body = await resp.aread()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise clock.error(exc, in_body=resp is not None) from exc
        finally:
            if resp is not None:
                await resp.aclose()
        return HTTPResponse(resp.status_code, _headers(resp), body)

    @asynccontextmanager
    async def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> AsyncIterator[AsyncHTTPStream]:
        clock = _Clock(timeouts)
        try:
            req = _build(self._client, request, clock)
            resp = await self._client.send(req, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise clock.error(exc, in_body=False) from exc
        try:
            clock.body_timeout(req)
            yield AsyncHTTPStream(resp.status_code, _headers(resp), self._chunks(resp, clock))
        finally:
            await resp.aclose()

    @staticmethod
    async def _chunks(resp: httpx.Response, clock: _Clock) -> AsyncIterator[bytes]:
        try:
            async for data in resp.aiter_raw():
                clock.check()
                yield data
        except httpx.HTTPError as exc:
            raise clock.error(exc, in_body=True) from exc

    async def aclose(self) -> None:
        await self._client.aclose()
