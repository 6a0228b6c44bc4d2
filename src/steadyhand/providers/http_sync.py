"""The default sync transport: steadyhand's own lean HTTP/1.1 client on blocking sockets and httptools.

httpx's sync client spent most of a non-streamed call's CPU (its models, h11 and httpcore's pool:
benchmarks/bench_client.py); this one does what :class:`~steadyhand.Client` needs and no more, like the
async ``http_httptools.py``: one thread-safe keep-alive pool (at most ``MAX_CONNECTIONS`` connections in
use, idle ones kept ``KEEPALIVE_EXPIRY`` seconds, per origin), TCP_NODELAY, TLS with the system's trust
store and ALPN ``http/1.1`` (or the ``ssl_context`` given), request bodies with Content-Length,
responses framed by Content-Length, chunked or the connection's close, streamed bodies read as the
consumer asks.

Time limits (:class:`Timeouts`) mean what they mean for the other transports: ``connect`` covers waiting
for a free pooled connection and connecting (TLS handshake included); ``first_token`` (``stall`` when
unset) is the longest wait for a byte of the response head (and for sending the request); ``stall`` the
longest gap between two pieces of the body; ``total`` a deadline for the whole call, which caps every
wait. Errors: :class:`~steadyhand.ProviderConnectionError` before the head,
:class:`~steadyhand.StreamInterrupted` after it, :class:`~steadyhand.ProviderTimeout` with the phase.

A connection whose answer was not read to its end (a stream closed early, a failure) is closed, never
pooled, so the provider stops generating. An idle connection the server closed or wrote to is dropped
when next taken; a reused one that fails before any byte of the answer is retried once on a fresh one.
A forked child starts with an empty pool. No proxies: :func:`~steadyhand.providers.http_provider.
default_transport` picks httpx instead when an ``HTTP(S)_PROXY``-style variable is set.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httptools

from ..errors import ProviderConnectionError
from ._clock import Clock
from ._http1_wire import (
    KEEPALIVE_EXPIRY,
    MAX_CONNECTIONS,
    MAX_HEAD,
    Closed,
    ReadTimeout,
    ResponseParse,
    Target,
    body_decoder,
    cached_target,
    decode_body,
    describe,
    encode_request,
    exchange_error,
    refusal,
    tls_context,
)
from .base import HTTPRequest, HTTPResponse, HTTPStream, Timeouts

__all__ = ["HttptoolsTransport"]

_READ = 65536


class _Connection(ResponseParse):
    """One socket and the parse state of the answer on it (one request at a time); httptools calls back."""

    __slots__ = ("body", "got_bytes", "idle_since", "key", "reused", "slots", "sock")

    def __init__(self, sock: socket.socket, key: tuple[str, str, int]) -> None:
        self.sock, self.key = sock, key
        self.slots: threading.BoundedSemaphore | None = None
        """The pool's slots this connection holds one of while in use."""
        self.parser = httptools.HttpResponseParser(self)
        self.reused = False
        self.idle_since = 0.0
        self.begin(False)

    def begin(self, bodiless: bool) -> None:
        self.bodiless = bodiless
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.head_bytes = 0
        self.head_done = self.complete = self.keep = self.until_close = self.informational = False
        self.got_bytes = False

    def stale(self) -> bool:
        """The server closed this idle connection or wrote to it (nothing was asked): unusable."""
        sock = self.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))

    def close(self) -> None:
        with suppress(OSError):
            self.sock.close()

    def read(self, limit: float | None, phase: str) -> None:
        """Read once (waiting at most ``limit``) and parse; the server's close ends a close-framed body."""
        if limit is not None and limit <= 0:
            raise ReadTimeout(phase)
        sock = self.sock
        sock.settimeout(limit)
        try:
            data = sock.recv(_READ)
        except TimeoutError:
            raise ReadTimeout(phase) from None
        if not data:
            if self.head_done and self.until_close:
                self.complete = True
                return
            raise Closed("the server closed the connection")
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not self.complete:
                raise refusal(exc) from None
            self.keep = False  # bytes after the answer: the connection cannot be reused
        if not self.head_done:  # a head still incomplete: httptools holds its last field whole
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD:
                raise ValueError(f"the response head is longer than {MAX_HEAD} bytes")

    def take(self) -> bytes:
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        self.body = []
        return data

    def on_body(self, body: bytes) -> None:
        self.body.append(body)


class HttptoolsTransport:
    """Synchronous :class:`~steadyhand.providers.base.Transport` over one thread-safe pool of sockets.

    ``ssl_context`` verifies https origins (default: the system's trust store, made on first use).
    After :meth:`close` the transport still works: it opens new connections.
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
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        _LIVE.add(self)

    # -- the pool -------------------------------------------------------------------------------------------

    def _forked(self) -> None:
        """In a forked child, a pool of its own: the parent's sockets (and locks) are not the child's."""
        self._idle, self._lock = {}, threading.Lock()
        self._slots = threading.BoundedSemaphore(self._limit)

    def _pop_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        """The newest idle connection to ``key`` the server has not closed or written to."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                conn = idle.pop()
                expired = time.monotonic() - conn.idle_since > self._expiry
                if expired:  # the newest is too old: so are the rest
                    old, idle[:] = [conn, *idle], []
            if expired:
                for stale in old:
                    stale.close()
                return None
            if not conn.stale():
                return conn
            conn.close()

    def _checkout(self, target: Target, clock: Clock, *, fresh: bool) -> _Connection:
        """A pooled connection to ``target``, else a new one, waiting (within ``connect``) for a slot."""
        slots = self._slots
        if not slots.acquire(blocking=False):
            wait = clock.connect_limit(clock.head_limit())
            if not slots.acquire(timeout=-1 if wait is None else wait):
                raise clock.connect_timeout()
        try:
            conn = (None if fresh else self._pop_idle(target.key)) or self._connect(target, clock)
        except BaseException:
            slots.release()
            raise
        conn.slots = slots
        return conn

    def _connect(self, target: Target, clock: Clock) -> _Connection:
        limit = clock.connect_limit(clock.head_limit())
        if limit is not None and limit <= 0:  # the deadline passed while waiting for a slot
            raise clock.read_timeout() if clock.phase == "total" else clock.connect_timeout()
        try:
            sock = socket.create_connection((target.host, target.port), timeout=limit)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if target.tls:
                if self._ssl is None:
                    self._ssl = tls_context()
                sock = self._ssl.wrap_socket(sock, server_hostname=target.host)
        except TimeoutError:
            raise clock.connect_timeout() from None
        except OSError as exc:
            raise ProviderConnectionError(
                f"could not connect: {describe(exc)}; is the provider's base_url right?"
            ) from exc
        return _Connection(sock, target.key)

    def _release(self, conn: _Connection, reuse: bool) -> None:
        """Give ``conn`` back (and its slot): to the idle pool when its answer was read whole, else closed.

        A connection taken before :meth:`close` or before a fork belongs to a pool that is gone: closed."""
        slots, conn.slots = conn.slots, None
        if reuse and conn.keep and conn.complete and slots is self._slots:
            conn.reused = True
            conn.idle_since = time.monotonic()
            with self._lock:
                self._idle.setdefault(conn.key, []).append(conn)
        else:
            conn.close()
        if slots is not None:
            slots.release()

    # -- one exchange ---------------------------------------------------------------------------------------

    def _exchange(self, request: HTTPRequest, clock: Clock, *, streaming: bool) -> _Connection:
        """Send ``request``; return its connection once the head (``streaming``) or the whole answer is in.

        A reused connection that fails before any byte of the answer is retried once on a fresh one.
        """
        target = cached_target(request.url)
        payload = encode_request(request, target)
        fresh = False
        while True:
            conn = self._checkout(target, clock, fresh=fresh)
            conn.begin(request.method == "HEAD")
            try:
                limit = clock.head_limit()
                if limit is not None and limit <= 0:
                    raise ReadTimeout(clock.phase)
                conn.sock.settimeout(limit)
                try:
                    conn.sock.sendall(payload)
                except TimeoutError:
                    raise ReadTimeout(clock.phase) from None
                while not conn.head_done:
                    conn.read(clock.head_limit(), clock.phase)
                if not streaming:
                    while not conn.complete:
                        conn.read(clock.body_limit(), clock.phase)
                return conn
            except BaseException as exc:
                self._release(conn, False)
                if not isinstance(exc, Exception):
                    raise
                failure = exc
            stale = conn.reused and not conn.got_bytes and isinstance(failure, ConnectionError)
            if fresh or not stale:
                raise exchange_error(failure, clock, in_body=conn.head_done) from failure
            fresh = True  # a stale pooled connection: once more on a new one

    def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        clock = Clock(timeouts)
        conn = self._exchange(request, clock, streaming=False)
        status, headers, body = conn.status, conn.headers, conn.take()
        self._release(conn, True)
        decode = body_decoder(headers) if "content-encoding" in headers else None
        return HTTPResponse(status, headers, body if decode is None else decode_body(decode, body))

    @contextmanager
    def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> Iterator[HTTPStream]:
        clock = Clock(timeouts)
        conn = self._exchange(request, clock, streaming=True)
        try:
            yield HTTPStream(conn.status, conn.headers, _chunks(conn, clock))
        finally:
            self._release(conn, True)

    def close(self) -> None:
        """Close the idle connections; those in use close when their calls end."""
        with self._lock:
            idle, self._idle = self._idle, {}
            self._slots = threading.BoundedSemaphore(self._limit)
        for conns in idle.values():
            for conn in conns:
                conn.close()


_LIVE: weakref.WeakSet[HttptoolsTransport] = weakref.WeakSet()
"""Every transport of this process, for the fork hook (no ``getpid`` on the path of every call)."""


def _after_fork_in_child() -> None:
    for transport in list(_LIVE):
        transport._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _chunks(conn: _Connection, clock: Clock) -> Iterator[bytes]:
    decode = body_decoder(conn.headers) if "content-encoding" in conn.headers else None
    while True:
        if conn.body:
            data = conn.take()
            clock.check()
            yield data if decode is None else decode_body(decode, data)
        elif conn.complete:
            return
        else:
            try:
                conn.read(clock.body_limit(), clock.phase)
            except Exception as exc:
                conn.keep = False
                raise exchange_error(exc, clock, in_body=True) from exc
