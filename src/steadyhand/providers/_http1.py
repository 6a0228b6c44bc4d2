"""One HTTP/1.1 client connection on an asyncio protocol and httptools, for ``http_httptools.py``: the
response parsed as it arrives (``_http1_wire.ResponseParse``), back-pressure, and the time limits on
reading it. No pool here."""

from __future__ import annotations

import asyncio
import socket
from typing import cast

import httptools

from ._http1_wire import (
    MAX_FIELD,
    MAX_HEAD,
    Closed,
    ReadTimeout,
    ResponseParse,
    Target,
    encode_request,
    parse_url,
    refusal,
)

__all__ = [
    "MAX_FIELD",
    "MAX_HEAD",
    "Closed",
    "Connection",
    "ReadTimeout",
    "Target",
    "encode_request",
    "parse_url",
]

_PAUSE_AT = 1 << 18
"""Unread streamed bytes at which reading pauses until the consumer catches up."""
_SLACK = 0.001
"""A timer may fire this early (the event loop's clock resolution)."""


class Connection(ResponseParse, asyncio.Protocol):
    """One connection and the state of the exchange on it (one request at a time)."""

    __slots__ = (
        "active", "body", "buffered", "closed", "deadline", "exc", "generation", "got_bytes", "idle_since",
        "key", "last", "limit", "loop", "paused", "phase", "reused", "stall", "streaming", "time", "timer",
        "transport", "waiter",
    )  # fmt: skip

    def __init__(self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int], generation: int) -> None:
        self.loop, self.key, self.generation = loop, key, generation
        self.time = loop.time
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.active = True
        self.reused = False
        self.idle_since = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.begin(False, None, "stall", None, None)

    def begin(
        self, streaming: bool, limit: float | None, phase: str, stall: float | None, deadline: float | None
    ) -> None:
        """Start an exchange: ``limit`` bounds the wait for the head (``phase``), ``stall`` later gaps."""
        self.streaming, self.limit, self.phase, self.stall, self.deadline = (
            streaming,
            limit,
            phase,
            stall,
            deadline,
        )
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.buffered = self.head_bytes = 0
        self.head_done = self.complete = self.keep = self.until_close = self.informational = False
        self.got_bytes = self.paused = self.bodiless = False
        self.exc: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.last = self.time()
        self.active = True
        self._arm()

    # -- waiting ------------------------------------------------------------------------------------------

    async def wait(self) -> None:
        waiter = self.waiter = self.loop.create_future()
        await waiter

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _due(self) -> float | None:
        due = None if self.limit is None else self.last + self.limit
        if self.deadline is not None and (due is None or self.deadline < due):
            return self.deadline
        return due

    def _arm(self) -> None:
        """Make sure a timer fires by the current limit. One timer serves many exchanges: when it fires
        it looks at the limit and the last read then, and sets itself again if nothing ran out, so a
        kept-alive connection needs no new timer per request."""
        due, timer = self._due(), self.timer
        if due is None or (timer is not None and timer.when() <= due):
            return
        if timer is not None:
            timer.cancel()
        self.timer = self.loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        if self.complete or self.exc is not None or not self.active:
            return
        now = self.time()
        if self.deadline is not None and now + _SLACK >= self.deadline:
            return self.fail(ReadTimeout("total"))
        if self.streaming and (self.body or self.paused):  # the consumer lags, nothing stalls
            self.last = now
        elif self.limit is not None and now + _SLACK >= self.last + self.limit:
            return self.fail(ReadTimeout(self.phase))
        due = self._due()
        if due is not None:
            self.timer = self.loop.call_at(due, self._on_timer)

    def fail(self, exc: BaseException) -> None:
        """End the exchange with ``exc``; the connection is dropped."""
        if self.exc is None and not self.complete:
            self.exc = exc
            self._wake()
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None and not self.loop.is_closed():
            self.transport.close()

    def take(self) -> bytes:
        """The streamed bytes read so far, resuming a paused read."""
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        self.body, self.buffered = [], 0
        if self.paused and self.transport is not None:
            self.paused = False
            self.last = self.time()
            self.transport.resume_reading()
        return data

    # -- asyncio protocol -----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if not self.active:  # bytes on an idle connection: nothing asked for them, so it is unusable
            self.close()
            return
        self.last = self.time()
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.complete:  # bytes after the answer: the connection cannot be reused
                self.keep = False
                self.close()
            else:
                self.fail(refusal(exc))
            return
        if not self.head_done:  # a head still incomplete: httptools holds its last field whole
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD:
                self.fail(ValueError(f"the response head is longer than {MAX_HEAD} bytes"))

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.complete or self.exc is not None or not self.active:
            return
        if exc is None and self.head_done and self.until_close:  # the close is the body's end
            self.complete = True
            self._wake()
        else:
            self.exc = exc or Closed("the server closed the connection")
            self._wake()

    # -- httptools callbacks (the rest are ResponseParse's) ---------------------------------------------

    def _headed(self) -> None:
        self.limit, self.phase = self.stall, "stall"
        self._arm()
        if self.streaming:
            self._wake()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        if self.streaming:
            self.buffered += len(body)
            if self.buffered > _PAUSE_AT and not self.paused and self.transport is not None:
                self.paused = True
                self.transport.pause_reading()
            self._wake()
