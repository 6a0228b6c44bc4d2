"""The gateway's HTTP/1.1 server: raw asyncio + httptools, one task per request.

Why not FastAPI + uvicorn (design.md's first map): the gateway's budget is ≤ 0.5 ms added per call
and ≥ 2,500 requests/s on one core, and an ASGI stack spends most of that budget on its own layers
(measured: ``benchmarks/gateway_server.py``). This is the simulator's approach (``sim/server.py``)
with its fault machinery left out: keep-alive, pipelined requests answered in order, a body-size
limit (413), a header-size limit (431), a deadline to receive each request (408: slow clients such
as slowloris are cut off), an idle timeout, and write back-pressure for streams.

What a request means is the handler's business; a refusal this layer answers itself (413, 431,
408, a malformed request line) is worded by the ``refusal`` callback, so it comes in the caller's
protocol's error shape too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

import httptools

from ..sim.http import LAST_CHUNK, REASONS, chunk
from ..sim.parsing import RequestParsing

__all__ = ["Connection", "HttpLimits", "Refusal", "Request", "Responder", "ServerCore"]

log = logging.getLogger("steadyhand.server")

MAX_QUEUED = 16
"""Pipelined requests buffered per connection before it stops reading."""
FLUSH_BYTES = 64 * 1024
"""Stream pieces held for one write at the end of the loop iteration, up to this many bytes."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What the gateway accepts before it refuses."""

    max_body_bytes: int = 4 * 1024 * 1024
    """Larger bodies get a 413 in the caller's protocol's error shape."""
    max_header_bytes: int = 64 * 1024
    read_timeout: float = 30.0
    """Seconds to receive a whole request once it starts; a slower one gets a 408 and is closed."""
    idle_timeout: float = 75.0
    """Seconds a kept-alive connection may sit with no request before it is closed."""


@dataclass(slots=True)
class Request:
    """One complete HTTP request; header names are lower-cased."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    received: float = 0.0
    """``time.perf_counter()`` when the last byte of the request arrived."""
    keep_alive: bool = True


Refusal = Callable[[int, str, dict[str, str]], bytes]
"""``refusal(status, path, headers)``: the whole 400/408/413/431 response, with ``connection: close``."""
Handler = Callable[[Request, "Responder"], Awaitable[None]]


class Responder:
    """How a handler answers: :meth:`send` a whole body, or :meth:`start` a chunked one and
    :meth:`write` its pieces (awaiting back-pressure) before :meth:`end`.

    The head and the first piece go out at once (the time to first token); later pieces written
    in the same event-loop iteration leave in one write at its end (:meth:`Connection.hold`): an
    upstream read carrying 200 events costs one send, not 200, and the bytes are the same.
    """

    __slots__ = ("_conn", "_keep_alive", "chunked", "ended", "started", "status")

    def __init__(self, conn: Connection, keep_alive: bool) -> None:
        self._conn = conn
        self._keep_alive = keep_alive
        self.started = False
        self.ended = False
        self.chunked = False
        self.status = 0

    def _head(self, status: int, headers: Iterable[tuple[str, str]], length: int | None) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        lines.append(f"content-length: {length}" if length is not None else "transfer-encoding: chunked")
        if not self._keep_alive:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        """The whole response at once."""
        if self.started:
            raise RuntimeError("the response has already started")
        self.started = self.ended = True
        self.status = status
        self._conn.write(self._head(status, headers, len(body)) + body)

    def start(self, status: int, headers: Iterable[tuple[str, str]], first: bytes = b"") -> None:
        """Send the head of a chunked response (and, in the same write, its first piece)."""
        if self.started:
            raise RuntimeError("the response has already started")
        self.started = self.chunked = True
        self.status = status
        self._conn.write(self._head(status, headers, None) + (chunk(first) if first else b""))

    async def write(self, data: bytes) -> None:
        """One piece of a chunked body; waits while the client is not reading."""
        if self.push(data):
            await self._conn.drain()

    def push(self, data: bytes) -> bool:
        """:meth:`write` without the wait: True when the caller must ``await`` :meth:`drain` (the
        client is not reading, or has gone), which saves a coroutine per piece when it reads."""
        if data:
            self._conn.hold(chunk(data))
        return self._conn.must_drain()

    async def drain(self) -> None:
        await self._conn.drain()

    def end(self, last: bytes = b"") -> None:
        """The last piece (optional) and the terminating chunk."""
        if self.ended:
            return
        self.ended = True
        self._conn.write((chunk(last) if last else b"") + LAST_CHUNK)

    @property
    def disconnected(self) -> bool:
        return self._conn.transport is None


@dataclass(slots=True)
class ServerCore:
    """What every connection shares: the handler, the limits, and the connections and requests in flight."""

    handler: Handler
    refusal: Refusal
    limits: HttpLimits = field(default_factory=HttpLimits)
    connections: set[Connection] = field(default_factory=set)
    in_flight: set[asyncio.Task[None]] = field(default_factory=set)
    closing: bool = False


class Connection(RequestParsing, asyncio.Protocol):
    """One keep-alive connection; requests are answered in order, one at a time.

    Timers run only while the connection waits for the client: ``read_timeout`` from the first byte of
    a request until it is complete, ``idle_timeout`` between requests. A request being answered is
    never cut by them (its deadline is the policies' business).
    """

    def __init__(self, core: ServerCore) -> None:
        self.core: ServerCore = core
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: list[Request] = []
        self.task: asyncio.Task[None] | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._receiving = False
        """A request has begun arriving and is not complete yet."""
        self._paused_reading = False
        self._can_write: asyncio.Event | None = None
        self._held: list[bytes] = []
        self._held_bytes = 0

    # connection lifecycle ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # not a TCP socket (a Unix one)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.core.connections.add(self)
        self._arm(self.core.limits.idle_timeout, self._close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.core.connections.discard(self)
        self._held.clear()
        self._disarm()
        self.transport = None
        if self.task is not None and not self.task.done():
            self.task.cancel()  # the client left: stop the upstream call and free its connection
        if self._can_write is not None:
            self._can_write.set()

    def pause_writing(self) -> None:
        if self._can_write is None:
            self._can_write = asyncio.Event()
        self._can_write.clear()

    def resume_writing(self) -> None:
        if self._can_write is not None:
            self._can_write.set()

    def write(self, data: bytes) -> None:
        """Write now, after whatever :meth:`hold` kept."""
        if self._held:
            data = b"".join(self._held) + data
            self._held.clear()
            self._held_bytes = 0
        if self.transport is not None:
            self.transport.write(data)

    def hold(self, data: bytes) -> None:
        """Write at the end of this event-loop iteration, with the other pieces held until then."""
        if not self._held:
            asyncio.get_running_loop().call_soon(self.flush)
        self._held.append(data)
        self._held_bytes += len(data)
        if self._held_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._held:
            self.write(b"")

    def must_drain(self) -> bool:
        """Whether a writer must wait: the client is gone or not reading."""
        return self.transport is None or (self._can_write is not None and not self._can_write.is_set())

    async def drain(self) -> None:
        if self.transport is None:
            raise ConnectionResetError("the client closed the connection")
        if self._can_write is not None and not self._can_write.is_set():
            await self._can_write.wait()
            if self.transport is None:
                raise ConnectionResetError("the client closed the connection")

    @property
    def idle(self) -> bool:
        return self.task is None and not self.queue

    def close_if_idle(self) -> None:
        if self.idle and self.transport is not None:
            self.transport.close()

    # timers -----------------------------------------------------------------------------------------
    def _close(self) -> None:
        if self.transport is not None and self.idle:
            self.transport.close()

    def _read_expired(self) -> None:
        if self.task is not None:  # a pipelined request is arriving while one is answered: wait
            self._arm(self.core.limits.read_timeout, self._read_expired)
            return
        self._refuse(408)

    def _refuse(self, status: int) -> None:
        """Answer 408/413/431/400 at once and close: the rest of the request is never read."""
        if self._refused:
            return
        self._refused = True
        self._disarm()
        transport = self.transport
        if transport is None:
            return
        try:
            data = self.core.refusal(status, self._url.decode("latin-1"), self._headers)
        except Exception:  # the refusal must go out even if its wording fails
            log.exception("the gateway failed to word a %s refusal", status)
            data = b"HTTP/1.1 %d %b\r\ncontent-length: 0\r\nconnection: close\r\n\r\n" % (
                status,
                REASONS.get(status, "Error").encode(),
            )
        transport.write(data)
        # Half-close: the client reads the answer even while it is still sending, then we close.
        try:
            if transport.can_write_eof():
                transport.write_eof()
        except OSError:  # pragma: no cover - the peer is already gone
            pass
        asyncio.get_running_loop().call_later(0.5, transport.close)
        self.queue.clear()

    # parsing ----------------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400)
        except httptools.HttpParserError:
            self._refuse(400)

    def on_message_begin(self) -> None:
        self._url, self._headers, self._body, self._size = b"", {}, [], 0
        self._receiving = True
        if self.task is None:
            self._arm(self.core.limits.read_timeout, self._read_expired)

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.core.limits.max_header_bytes:
            self._refuse(431)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._receiving = False
        if self.task is None:
            self._disarm()
        path, _, query = self._url.decode("latin-1").partition("?")
        request = Request(
            self.parser.get_method().decode("latin-1"), path, query, self._headers,
            b"".join(self._body), time.perf_counter(), self.parser.should_keep_alive(),
        )  # fmt: skip
        self._body = []
        if self.task is not None:
            self.queue.append(request)
            if len(self.queue) >= MAX_QUEUED and self.transport is not None:
                self.transport.pause_reading()
                self._paused_reading = True
            return
        self._begin(request)

    # answering --------------------------------------------------------------------------------------
    def _begin(self, request: Request) -> None:
        keep = request.keep_alive and not self.core.closing
        task = asyncio.get_running_loop().create_task(self._answer(request, keep))
        self.task = task
        self.core.in_flight.add(task)
        task.add_done_callback(self._done)

    async def _answer(self, request: Request, keep_alive: bool) -> None:
        out = Responder(self, keep_alive)
        try:
            await self.core.handler(request, out)
        except (asyncio.CancelledError, ConnectionResetError):
            if self.transport is not None:
                self.transport.abort()
            raise
        except Exception:
            log.exception("the gateway failed on %s %s", request.method, request.path)
            if self.transport is not None:
                if out.started:  # nothing truthful can follow a half-sent answer: cut it
                    self.transport.abort()
                    return
                out.send(500, [("content-type", "text/plain")], b"steadyhand gateway bug; see its log\n")
            return
        if not out.ended and self.transport is not None:
            self.transport.abort()  # a handler that did not finish its answer must not leave it hanging
            return
        if not keep_alive and self.transport is not None:
            self.transport.close()

    def _done(self, task: asyncio.Task[None]) -> None:
        self.core.in_flight.discard(task)
        if self.task is task:
            self.task = None
        if self.transport is None:
            return
        if self.queue and not self.core.closing:
            self._begin(self.queue.pop(0))
        else:
            self.queue.clear()
            if self.core.closing:
                self.transport.close()
                return
        if self._paused_reading and len(self.queue) < MAX_QUEUED:
            self.transport.resume_reading()
            self._paused_reading = False
        if self.task is None and self._timer is None:
            if self._receiving:  # the next request began before this answer's task was done: time it
                self._arm(self.core.limits.read_timeout, self._read_expired)
            else:
                self._arm(self.core.limits.idle_timeout, self._close)
