"""The simulator's HTTP/1.1 server on raw asyncio + httptools, and SimServer running it on a thread.

Raw asyncio (not an ASGI framework) gives the control the faults need: a TCP RST before any header,
a connection held open forever, a stream that stalls or is cut mid-body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time
from typing import Any, cast

import httptools

from ..providers._inbound_check import MAX_BODY_BYTES
from .actions import Action, Hang, Plain, Reset, Stream
from .faults import ErrorSpec
from .http import LAST_CHUNK
from .recording import Recorder
from .router import Router, Unparsed

log = logging.getLogger(__name__)
_Request = tuple[str, str, dict[str, str], bytes, bool, float]


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional; asyncio is merely slower
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class _Core:
    """Shared by every connection: routing, recording and the set of live connections."""

    def __init__(self, router: Router, recorder: Recorder) -> None:
        self.router = router
        self.recorder = recorder
        self.connections: set[_Connection] = set()

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes, arrived: float) -> Action:
        path = target.split("?", 1)[0]
        body: Any = None
        if raw:
            try:  # bodies over the limit are left to the codec, which answers them with a 413
                body = json.loads(raw) if len(raw) <= MAX_BODY_BYTES else Unparsed(raw)
            except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
                body = Unparsed(raw)
        recorded = None if isinstance(body, Unparsed) else body
        self.recorder.add(time=arrived, method=method, path=path, headers=headers, body=recorded)
        try:
            return self.router.route(method, path, headers, body)
        except Exception:  # a simulator bug must not look like a provider fault: say so loudly
            log.exception("simulator failed on %s %s", method, path)
            message = "steadyhand simulator bug; see its log"
            if path.startswith("/v1/messages"):
                return self.router.error("anthropic", ErrorSpec(500, "api_error", message))
            return self.router.error("openai", ErrorSpec(500, "server_error", message))


class _Connection(asyncio.Protocol):
    """One keep-alive connection; requests are answered in order, one at a time."""

    def __init__(self, core: _Core) -> None:
        self.core = core
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: list[_Request] = []
        self.busy = False
        self.task: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[None] | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._arrived = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.closed = asyncio.get_running_loop().create_future()
        self.core.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.core.connections.discard(self)
        if self.task is not None:
            self.task.cancel()
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                spec = ErrorSpec(400, "invalid_request_error", "Malformed HTTP request.")
                self.transport.write(self.core.router.error("openai", spec).data)
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url, self._headers, self._body, self._arrived = b"", {}, [], time.monotonic()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("latin-1")
        request = (method, self._url.decode("latin-1"), self._headers, b"".join(self._body),
                   self.parser.should_keep_alive(), self._arrived)  # fmt: skip
        if self.busy:
            self.queue.append(request)
        else:
            self._process(request)

    def _process(self, request: _Request) -> None:
        method, target, headers, raw, keep_alive, arrived = request
        action = self.core.handle(method, target, headers, raw, arrived)
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
        while self.queue and not self.busy and self.transport is not None:
            self._process(self.queue.pop(0))

    async def _stream(self, transport: asyncio.Transport, action: Stream) -> None:
        if action.ttft:
            await asyncio.sleep(action.ttft)
        tail = LAST_CHUNK if action.end == "finish" else b""
        if not action.gap:
            transport.write(action.head + b"".join(action.events) + tail)
            return
        transport.write(action.head + (action.events[0] if action.events else b""))
        for event in action.events[1:]:
            await asyncio.sleep(action.gap)
            transport.write(event)
        if tail:
            transport.write(tail)
