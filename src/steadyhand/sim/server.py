"""The simulator's HTTP/1.1 server on raw asyncio + httptools.

Raw asyncio (not an ASGI framework) gives the control the faults need: a TCP RST before any header,
a connection held open forever, a stream that stalls or is cut mid-body. It also guards itself like a
real API front end: a body-size limit (413), a deadline to receive each request (408) and an idle
timeout, and CPU-heavy requests handled on worker threads so one of them cannot stall everyone else.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, cast

import httptools

from ..providers._inbound_check import MAX_BODY_BYTES
from .actions import Action, Hang, Plain, Reset, Stream
from .faults import ErrorSpec, Provider
from .http import LAST_CHUNK
from .parsing import RequestParsing
from .recording import Recorder
from .router import Router, Unparsed
from .workers import Workers

log = logging.getLogger(__name__)
_Request = tuple[str, str, dict[str, str], bytes, bool, float]
MAX_QUEUED = 16
"""Pipelined requests buffered per connection before it stops reading."""
REFUSED_GRACE = 0.5
"""After a 413/431, the rest of the request is read and dropped; the connection closes once the client
has been silent this long (or at the read timeout), so the client can finish sending and read the answer."""


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """What the simulator accepts before it refuses, like a real API front end."""

    max_body_bytes: int = 32 * 1024 * 1024
    """Larger bodies get a 413 in the provider's error shape (Anthropic's documented limit: 32 MB)."""
    max_header_bytes: int = 64 * 1024
    """Larger header blocks get a 431."""
    read_timeout: float = 30.0
    """Seconds to receive a whole request once it starts; a half-sent one then gets a 408."""
    idle_timeout: float = 60.0
    """Seconds a kept-alive connection may sit with no request before it is closed."""
    offload_bytes: int = 64 * 1024
    """Bodies this large (and every embeddings request) are handled on a worker thread."""


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional; asyncio is merely slower
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def _provider(target: str, headers: dict[str, str]) -> Provider:
    anthropic = target.startswith("/v1/messages") or "anthropic-version" in headers
    return "anthropic" if anthropic else "openai"


class _Core:
    """Shared by every connection: routing, recording, limits, workers and the live connections."""

    def __init__(self, router: Router, recorder: Recorder, limits: ServerLimits | None = None) -> None:
        self.router = router
        self.recorder = recorder
        self.limits = limits or ServerLimits()
        self.workers = Workers()
        self.connections: set[_Connection] = set()

    def heavy(self, target: str, raw: bytes) -> bool:
        """Whether handling may take long enough that it belongs on a worker thread."""
        return len(raw) >= self.limits.offload_bytes or target.startswith("/v1/embeddings")

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes, arrived: float) -> Action:
        path, _, query = target.partition("?")
        body: Any = None
        if raw:
            try:  # bodies over the limit are left to the codec, which answers them with a 413
                body = json.loads(raw) if len(raw) <= MAX_BODY_BYTES else Unparsed(raw)
            except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
                body = Unparsed(raw)
        recorded = None if isinstance(body, Unparsed) else body
        self.recorder.add(time=arrived, method=method, path=path, headers=headers, body=recorded)
        try:
            return self.router.route(method, path, headers, body, query)
        except Exception:  # a simulator bug must not look like a provider fault: say so loudly
            log.exception("simulator failed on %s %s", method, path)
            message = "steadyhand simulator bug; see its log"
            if path.startswith("/v1/messages"):
                return self.router.error("anthropic", ErrorSpec(500, "api_error", message))
            return self.router.error("openai", ErrorSpec(500, "server_error", message))

    def refusal(self, status: int, target: str, headers: dict[str, str]) -> bytes:
        """A 408/413/431 in the provider's error shape, closing the connection."""
        provider = _provider(target, headers)
        limit = self.limits
        if status == 413:
            kind = "request_too_large" if provider == "anthropic" else "invalid_request_error"
            message = f"Request exceeds the maximum allowed number of bytes ({limit.max_body_bytes})."
            spec = ErrorSpec(413, kind, message, None if provider == "anthropic" else "request_too_large")
        elif status == 431:
            message = f"Request headers exceed the maximum allowed size ({limit.max_header_bytes} bytes)."
            spec = ErrorSpec(431, "invalid_request_error", message)
        else:
            message = f"The request was not received in full within {limit.read_timeout:g} s."
            spec = ErrorSpec(408, "invalid_request_error", message)
        data = self.router.error(provider, spec).data
        return data.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1)


class _Connection(RequestParsing, asyncio.Protocol):
    """One keep-alive connection; requests are answered in order, one at a time.

    Timers run only while the connection waits for the client: ``read_timeout`` from the first byte
    of a request until it is complete, ``idle_timeout`` between requests. An answer in progress (a hang
    fault, a slow stream) is never cut by them.
    """

    def __init__(self, core: _Core) -> None:
        self.core: _Core = core
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: list[_Request] = []
        self.busy = False
        self.task: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[None] | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._arrived = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._refused_until = 0.0
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.closed = asyncio.get_running_loop().create_future()
        self.core.connections.add(self)
        self._arm(self.core.limits.idle_timeout, self._idle_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self.core.connections.discard(self)
        self._disarm()
        if self.task is not None:
            self.task.cancel()
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)
        self.transport = None

    # timers
    def _idle_expired(self) -> None:
        if self.transport is not None and not self.busy and not self.queue:
            self.transport.close()

    def _read_expired(self) -> None:
        if self.busy:  # a pipelined request arrives while an answer is still going out: wait for it
            self._arm(self.core.limits.read_timeout, self._read_expired)
            return
        if self.transport is not None:
            if not self._refused:
                self.transport.write(self.core.refusal(408, self._url.decode("latin-1"), self._headers))
            self.transport.close()

    def _refuse(self, status: int) -> None:
        """Answer 413/431 at once, then swallow the rest of the request (see ``REFUSED_GRACE``)."""
        self._refused, self._body = True, []
        self._refused_until = time.monotonic() + self.core.limits.read_timeout
        if self.transport is not None:
            self.transport.write(self.core.refusal(status, self._url.decode("latin-1"), self._headers))
        self._arm(REFUSED_GRACE, self._close)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            if time.monotonic() < self._refused_until:
                self._arm(REFUSED_GRACE, self._close)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None and not self._refused:
                spec = ErrorSpec(400, "invalid_request_error", "Malformed HTTP request.")
                self.transport.write(self.core.router.error("openai", spec).data)
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url, self._headers, self._body, self._arrived = b"", {}, [], time.monotonic()
        self._size = 0
        self._arm(self.core.limits.read_timeout, self._read_expired)

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_message_complete(self) -> None:
        if self._refused:
            if self.transport is not None:
                self.transport.close()
            return
        self._disarm()
        method = self.parser.get_method().decode("latin-1")
        request = (method, self._url.decode("latin-1"), self._headers, b"".join(self._body),
                   self.parser.should_keep_alive(), self._arrived)  # fmt: skip
        self._body = []
        if self.busy:
            self.queue.append(request)
            if len(self.queue) >= MAX_QUEUED and self.transport is not None:
                self.transport.pause_reading()
                self._paused = True
        else:
            self._process(request)
            self._drain()

    def _process(self, request: _Request) -> None:
        method, target, headers, raw, keep_alive, arrived = request
        if self.core.heavy(target, raw):
            self.busy = True
            self.task = asyncio.get_running_loop().create_task(self._offloaded(request))
            return
        self._act(self.core.handle(method, target, headers, raw, arrived), keep_alive)

    async def _offloaded(self, request: _Request) -> None:
        method, target, headers, raw, keep_alive, arrived = request
        try:
            action: Action = await self.core.workers.run(
                lambda: self.core.handle(method, target, headers, raw, arrived)
            )
        except Exception:  # handle() answers its own errors; this is the worker itself failing
            log.exception("simulator worker failed on %s %s", method, target)
            spec = ErrorSpec(500, "server_error", "steadyhand simulator bug; see its log")
            action = self.core.router.error("openai", spec)
        self.busy, self.task = False, None
        if self.transport is not None:
            self._act(action, keep_alive)
            self._drain()

    def _act(self, action: Action, keep_alive: bool) -> None:
        transport = self.transport
        if transport is None:
            return
        if isinstance(action, Plain) and action.delay == 0 and action.then == "keep":
            transport.write(action.data)
            if not keep_alive:
                transport.close()
            return
        if isinstance(action, Reset):
            self._reset(transport)
            return
        self.busy = True
        self.task = asyncio.get_running_loop().create_task(self._run(action, keep_alive))

    def _drain(self) -> None:
        """Answer queued pipelined requests; once nothing is left, wait for the next one (idle timer)."""
        while self.queue and not self.busy and self.transport is not None:
            self._process(self.queue.pop(0))
        if self._paused and len(self.queue) < MAX_QUEUED and self.transport is not None:
            self.transport.resume_reading()
            self._paused = False
        if not self.busy and not self.queue and self.transport is not None and self._timer is None:
            self._arm(self.core.limits.idle_timeout, self._idle_expired)

    def _reset(self, transport: asyncio.Transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    async def _hold(self) -> None:
        assert self.closed is not None
        await self.closed

    async def _run(self, action: Action, keep_alive: bool) -> None:
        transport = self.transport
        assert transport is not None
        if isinstance(action, Hang):
            await self._hold()
            return
        if isinstance(action, Plain):
            if action.delay:
                await asyncio.sleep(action.delay)
            transport.write(action.data)
            if action.then == "hang":
                await self._hold()
                return
            if action.then == "close":
                transport.close()
                return
        elif isinstance(action, Stream):
            await self._stream(transport, action)
            if action.end == "stall":
                await self._hold()
                return
            if action.end == "cut":
                transport.close()
                return
        if not keep_alive:
            transport.close()
            return
        self.busy = False
        self.task = None
        self._drain()

    async def _stream(self, transport: asyncio.Transport, action: Stream) -> None:
        if action.ttft:
            await asyncio.sleep(action.ttft)
        tail = LAST_CHUNK if action.end == "finish" else b""
        if not action.gap:  # no concatenation: a heavy answer is tens of megabytes
            transport.writelines([action.head, *action.events, tail])
            return
        transport.write(action.head + (action.events[0] if action.events else b""))
        for event in action.events[1:]:
            await asyncio.sleep(action.gap)
            transport.write(event)
        if tail:
            transport.write(tail)
