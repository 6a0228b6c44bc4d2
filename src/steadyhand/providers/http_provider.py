"""The HTTP driver: runs a pure :class:`WireFormat` over a transport, sync or async.

All decisions (status handling, error tagging, stream bookkeeping) live in :class:`_StreamState` and
small helpers shared by both paths; the sync and async methods differ only in how bytes move.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Literal, TypeVar

from ..context import NO_CONTEXT, CallContext
from ..errors import ConfigurationError, ProviderError, ProviderTimeout, StreamInterrupted
from ..timeouts import Timeouts
from ..types import Chunk, ModelRequest, ModelResponse
from .base import (
    AsyncTransport,
    Capabilities,
    HTTPRequest,
    HTTPResponse,
    Provider,
    StreamDecoder,
    Transport,
    WireFormat,
)
from .shaping import shape_request
from .token_estimate import estimate_usage

__all__ = [
    "AsyncTransportKind",
    "HTTPProvider",
    "TransportKind",
    "default_async_transport",
    "default_transport",
]

AsyncTransportKind = Literal["httptools", "aiohttp", "httpx"]
TransportKind = Literal["httptools", "httpx"]


def default_transport(kind: TransportKind = "httptools") -> Transport:
    """A new pooled sync transport of ``kind`` (config ``sync_transport``); each is imported only here.

    ``httptools``, the default, is steadyhand's own lean HTTP/1.1 client on blocking sockets
    (``http_sync.py``): a non-streamed call costs far less CPU than through httpx's client
    (benchmarks/bench_client.py). It speaks to no proxy, so when an ``HTTP(S)_PROXY``-style variable is
    set it gives way to httpx, which honours it.
    """
    if kind == "httptools":
        if not urllib.request.getproxies():
            from .http_sync import HttptoolsTransport

            return HttptoolsTransport()
        kind = "httpx"
    if kind == "httpx":
        from .http import HttpxTransport

        return HttpxTransport()
    raise ConfigurationError(f"unknown sync transport {kind!r}; use 'httptools' or 'httpx'")


def default_async_transport(kind: AsyncTransportKind = "httptools") -> AsyncTransport:
    """A new pooled async transport of ``kind`` (config ``async_transport``); each is imported only here.

    ``httptools``, the default, is steadyhand's own lean HTTP/1.1 client (``http_httptools.py``): it costs
    far less CPU per call than aiohttp, which in turn holds its throughput under concurrency where httpx's
    async pool does not (benchmarks/bench_async_concurrency.py, bench_gateway_compare.py). It speaks to
    no proxy, so when an ``HTTP(S)_PROXY``-style variable is set it gives way to aiohttp, which honours it.
    """
    if kind == "httptools":
        if not urllib.request.getproxies():
            from .http_httptools import AsyncHttptoolsTransport

            return AsyncHttptoolsTransport()
        kind = "aiohttp"
    if kind == "httpx":
        from .http import AsyncHttpxTransport

        return AsyncHttpxTransport()
    if kind == "aiohttp":
        from .http_aiohttp import AsyncAiohttpTransport

        return AsyncAiohttpTransport()
    raise ConfigurationError(f"unknown async transport {kind!r}; use 'httptools', 'aiohttp' or 'httpx'")


_E = TypeVar("_E", bound=BaseException)


class _StreamState:
    """What one stream has produced so far, to decode the rest and to report an interruption.

    A stream that ends without any usage (llama.cpp's never has any) gets a final chunk with usage
    counted locally and marked ``estimated`` (``token_estimate.py``), so usage is never silently zero.
    """

    __slots__ = ("batch", "decoder", "driver", "held", "output", "request", "started", "text", "usage_seen")

    def __init__(self, driver: HTTPProvider, request: ModelRequest, *, coalesce: bool = False) -> None:
        self.driver = driver
        self.request = request
        self.decoder: StreamDecoder = driver.wire.stream_decoder(request)
        self.text: list[str] = []
        self.output: list[str] = []
        self.usage_seen = False
        self.held: BaseException | None = None
        self.batch: Callable[[bytes], list[Chunk] | None] | None = (
            getattr(self.decoder, "feed_batch", None) if coalesce else None
        )
        """The decoder's ``feed_batch`` on a coalesced stream (the wire formats that have one)."""
        self.started = False
        """Whether the answer has started (a chunk with content was decoded)."""

    def refused(self, status_code: int, headers: Mapping[str, str], body: bytes) -> Exception:
        """The mapped error for a stream the provider refused with an error status."""
        return self.driver.wire.map_error(status_code, headers, body, self.request.model)

    def feed(self, data: bytes) -> Iterator[Chunk]:
        """Decode ``data`` event by event, yielding each event's chunks as soon as they are decoded.

        One read may carry many events (a transport hands over whatever is buffered; a server may write a
        whole answer at once): yielding per event keeps the first token from waiting for the decode of
        the whole read, and the chunks before a bad event are never lost. A decoder raises at the first
        bad event; once chunks of this read are out, the error is held and raised by the next ``feed``
        or ``close``. On a coalesced stream, once the answer has started, the rest of a read goes to the
        decoder's ``feed_batch`` at once (when it takes it): the first token still leaves alone.
        """
        if self.held is not None:
            raise self.held
        if self.started and self.batch is not None:
            batched = self._batched(data)
            if batched is not None:
                yield from batched
                return
        yielded = tried = False
        pos, size = 0, len(data)
        while pos < size:
            if pos and self.started and self.batch is not None and not tried:
                # the answer started inside this read (or a pending event is now whole): the rest of
                # it goes through feed_batch at once; tried once per read, not once per event
                tried = True
                batched = self._batched(data[pos:])
                if batched is not None:
                    yield from batched
                    return
            end = data.find(b"\n\n", pos)
            end = size if end < 0 else end + 2
            try:
                chunks = self.decoder.feed(data[pos:end])
            except Exception as exc:
                if not yielded:
                    raise
                self.held = exc
                return
            pos = end
            self._seen(chunks)
            for chunk in chunks:
                yielded = True
                yield chunk

    def _batched(self, data: bytes) -> list[Chunk] | None:
        """The chunks of ``data``'s whole events through ``feed_batch`` (a cut-off last event is fed the
        usual way), or ``None`` when the decoder would not take them, with nothing consumed."""
        assert self.batch is not None
        cut = data.rfind(b"\n\n") + 2
        if cut < 2:
            return None
        chunks = self.batch(data if cut == len(data) else data[:cut])
        if chunks is None:
            return None
        if cut < len(data):
            try:
                chunks += self.decoder.feed(data[cut:])
            except Exception as exc:
                if not chunks:
                    raise
                self.held = exc
        self._seen(chunks)
        return chunks

    def _seen(self, chunks: list[Chunk]) -> None:
        self.text.extend(c.text for c in chunks if c.text and c.index == 0)
        for c in chunks:
            self.usage_seen = self.usage_seen or c.usage is not None
            self.output.append(c.text)
            self.output.extend(d.arguments for d in c.tool_calls or ())
            if not self.started:
                self.started = bool(c.text or c.tool_calls or c.finish_reason)

    def close(self) -> list[Chunk]:
        if self.held is not None:
            raise self.held
        chunks = self.decoder.close()
        if self.usage_seen or any(c.usage is not None for c in chunks):
            return chunks
        self.output.extend(c.text for c in chunks)
        overhead = self.driver.capabilities.prompt_overhead
        merged = getattr(self.decoder, "merged", 0)  # text events a coalesced stream joined into others
        usage = estimate_usage(self.request, self.output, prompt_overhead=overhead, merged=merged)
        return [*chunks, Chunk(usage=usage)]

    def failed(self, exc: _E) -> _E:
        if isinstance(exc, StreamInterrupted) and not exc.partial_text:
            exc.partial_text = "".join(self.text)
        return self.driver.tag(exc, self.request)


class HTTPProvider(Provider):
    """A :class:`Provider` speaking ``wire`` over HTTP.

    Transports are created on first use unless given (pooled: steadyhand's own on httptools, sync and async,
    see :func:`default_transport` and :func:`default_async_transport`); ``timeouts`` apply to
    every call, each phase capped by what is left of the call's deadline (``ctx.deadline``).
    """

    enforces_deadline = True

    def __init__(
        self,
        wire: WireFormat,
        *,
        transport: Transport | None = None,
        async_transport: AsyncTransport | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.wire = wire
        self.name = str(getattr(wire, "provider_name", None) or wire.name)
        self.timeouts = timeouts or Timeouts()
        self._transport = transport
        self._async_transport = async_transport
        self._lazy = threading.Lock()  # threads' first calls must share one pool, not each build one

    @property
    def capabilities(self) -> Capabilities:
        caps = getattr(self.wire, "capabilities", None)
        return caps if isinstance(caps, Capabilities) else super().capabilities

    def _prepare(self, request: ModelRequest, ctx: CallContext, *, stream: bool) -> HTTPRequest:
        """Shape ``request`` to this provider (noting dropped fields on the span) and build the bytes."""
        request, dropped = shape_request(request, self.capabilities, self.name)
        if dropped:
            ctx.note("steadyhand.dropped", dropped)
        return self.wire.build_request(request, stream=stream)

    def _timeouts(self, ctx: CallContext) -> Timeouts:
        left = ctx.remaining()
        if left is not None and left <= 0:
            raise ProviderTimeout(
                "the call's deadline passed before the request was sent; give the call more time",
                phase="total",
            )
        return self.timeouts.capped(left)

    def _sync(self) -> Transport:
        if self._transport is None:
            with self._lazy:
                if self._transport is None:
                    self._transport = default_transport()
        return self._transport

    def _async(self) -> AsyncTransport:
        if self._async_transport is None:
            with self._lazy:
                if self._async_transport is None:
                    self._async_transport = default_async_transport()
        return self._async_transport

    def tag(self, exc: _E, request: ModelRequest) -> _E:
        """Name this provider and the model on an error that does not say where it came from."""
        if isinstance(exc, ProviderError):
            exc.provider = exc.provider or self.name
            exc.model = exc.model or request.model
        return exc

    def _parse(self, response: HTTPResponse, request: ModelRequest) -> ModelResponse:
        if not 200 <= response.status_code < 300:
            raise self.wire.map_error(response.status_code, response.headers, response.body, request.model)
        parsed = self.wire.parse_response(response, request)
        if parsed.usage.input_tokens is None and parsed.usage.output_tokens is None:
            texts = [c.message.text for c in parsed.choices]
            parsed.usage = estimate_usage(request, texts, prompt_overhead=self.capabilities.prompt_overhead)
        return parsed

    def complete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        http_request = self._prepare(request, ctx, stream=False)
        try:
            return self._parse(self._sync().send(http_request, timeouts=self._timeouts(ctx)), request)
        except ProviderError as exc:
            self.tag(exc, request)
            raise

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        http_request = self._prepare(request, ctx, stream=False)
        try:
            response = await self._async().send(http_request, timeouts=self._timeouts(ctx))
            return self._parse(response, request)
        except ProviderError as exc:
            self.tag(exc, request)
            raise

    def stream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> Iterator[Chunk]:
        return self._stream(request, ctx)

    def astream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> AsyncIterator[Chunk]:
        return self._astream(request, ctx)

    def _stream(self, request: ModelRequest, ctx: CallContext) -> Iterator[Chunk]:
        state = _StreamState(self, request, coalesce=ctx.coalesce)
        http_request = self._prepare(request, ctx, stream=True)
        try:
            with self._sync().stream(http_request, timeouts=self._timeouts(ctx)) as response:
                if not 200 <= response.status_code < 300:
                    body = b"".join(response.chunks)
                    raise state.refused(response.status_code, response.headers, body)
                for data in response.chunks:
                    yield from state.feed(data)
                yield from state.close()
        except ProviderError as exc:
            state.failed(exc)
            raise

    async def _astream(self, request: ModelRequest, ctx: CallContext) -> AsyncIterator[Chunk]:
        state = _StreamState(self, request, coalesce=ctx.coalesce)
        http_request = self._prepare(request, ctx, stream=True)
        try:
            async with self._async().stream(http_request, timeouts=self._timeouts(ctx)) as response:
                if not 200 <= response.status_code < 300:
                    body = b"".join([data async for data in response.chunks])
                    raise state.refused(response.status_code, response.headers, body)
                async for data in response.chunks:
                    for chunk in state.feed(data):
                        yield chunk
                for chunk in state.close():
                    yield chunk
        except ProviderError as exc:
            state.failed(exc)
            raise

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def aclose(self) -> None:
        if self._async_transport is not None:
            await self._async_transport.aclose()
