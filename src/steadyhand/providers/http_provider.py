"""The HTTP driver: runs a pure :class:`WireFormat` over a transport, sync or async.

All decisions (status handling, error tagging, stream bookkeeping) live in :class:`_StreamState` and
small helpers shared by both paths; the sync and async methods differ only in how bytes move.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from ..errors import ProviderError, StreamInterrupted
from ..types import Chunk, ModelRequest, ModelResponse
from .base import AsyncTransport, HTTPResponse, Provider, StreamDecoder, Timeouts, Transport, WireFormat
from .token_estimate import estimate_usage

__all__ = ["HTTPProvider", "call_timeouts"]

_E = TypeVar("_E", bound=BaseException)

_call_total: ContextVar[float | None] = ContextVar("steadyhand_call_total", default=None)


@contextmanager
def call_timeouts(total: float | None) -> Iterator[None]:
    """Tighten ``total`` for the calls (and streams) *started* inside this block.

    The client uses it for a call's ``timeout=``; a stream reads it when it is created, not when iterated.
    """
    token = _call_total.set(total)
    try:
        yield
    finally:
        _call_total.reset(token)


class _StreamState:
    """What one stream has produced so far, to decode the rest and to report an interruption.

    A stream that ends without any usage (llama.cpp's never has any) gets a final chunk with usage
    counted locally and marked ``estimated`` (``token_estimate.py``), so usage is never silently zero.
    """

    __slots__ = ("decoder", "driver", "output", "request", "text", "usage_seen")

    def __init__(self, driver: HTTPProvider, request: ModelRequest) -> None:
        self.driver = driver
        self.request = request
        self.decoder: StreamDecoder = driver.wire.stream_decoder(request)
        self.text: list[str] = []
        self.output: list[str] = []
        self.usage_seen = False

    def refused(self, status_code: int, headers: Mapping[str, str], body: bytes) -> Exception:
        """The mapped error for a stream the provider refused with an error status."""
        return self.driver.wire.map_error(status_code, headers, body, self.request.model)

    def feed(self, data: bytes) -> list[Chunk]:
        chunks = self.decoder.feed(data)
        self.text.extend(c.text for c in chunks if c.text and c.index == 0)
        for c in chunks:
            self.usage_seen = self.usage_seen or c.usage is not None
            self.output.append(c.text)
            self.output.extend(d.arguments for d in c.tool_calls or ())
        return chunks

    def close(self) -> list[Chunk]:
        chunks = self.decoder.close()
        if self.usage_seen or any(c.usage is not None for c in chunks):
            return chunks
        self.output.extend(c.text for c in chunks)
        return [*chunks, Chunk(usage=estimate_usage(self.request, self.output))]

    def failed(self, exc: _E) -> _E:
        if isinstance(exc, StreamInterrupted) and not exc.partial_text:
            exc.partial_text = "".join(self.text)
        return self.driver.tag(exc, self.request)


class HTTPProvider(Provider):
    """A :class:`Provider` speaking ``wire`` over HTTP.

    Transports are created on first use (pooled httpx clients) unless given; ``timeouts`` apply to
    every call, tightened per call by :func:`call_timeouts`.
    """

    def __init__(
        self,
        wire: WireFormat,
        *,
        transport: Transport | None = None,
        async_transport: AsyncTransport | None = None,
        timeouts: Timeouts = Timeouts(),
    ) -> None:
        self.wire = wire
        self.name = str(getattr(wire, "provider_name", None) or wire.name)
        self.timeouts = timeouts
        self._transport = transport
        self._async_transport = async_transport

    def _timeouts(self) -> Timeouts:
        total = _call_total.get()
        if total is None or (self.timeouts.total is not None and self.timeouts.total <= total):
            return self.timeouts
        return dataclasses.replace(self.timeouts, total=total)

    def _sync(self) -> Transport:
        if self._transport is None:
            from .http import HttpxTransport

            self._transport = HttpxTransport()
        return self._transport

    def _async(self) -> AsyncTransport:
        if self._async_transport is None:
            from .http import AsyncHttpxTransport

            self._async_transport = AsyncHttpxTransport()
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
            parsed.usage = estimate_usage(request, [c.message.text for c in parsed.choices])
        return parsed

    def complete(self, request: ModelRequest) -> ModelResponse:
        http_request = self.wire.build_request(request, stream=False)
        try:
            return self._parse(self._sync().send(http_request, timeouts=self._timeouts()), request)
        except ProviderError as exc:
            self.tag(exc, request)
            raise

    async def acomplete(self, request: ModelRequest) -> ModelResponse:
        http_request = self.wire.build_request(request, stream=False)
        try:
            return self._parse(await self._async().send(http_request, timeouts=self._timeouts()), request)
        except ProviderError as exc:
            self.tag(exc, request)
            raise

    def stream(self, request: ModelRequest) -> Iterator[Chunk]:
        return self._stream(request, self._timeouts())

    def astream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        return self._astream(request, self._timeouts())

    def _stream(self, request: ModelRequest, timeouts: Timeouts) -> Iterator[Chunk]:
        state = _StreamState(self, request)
        http_request = self.wire.build_request(request, stream=True)
        try:
            with self._sync().stream(http_request, timeouts=timeouts) as response:
                if not 200 <= response.status_code < 300:
                    body = b"".join(response.chunks)
                    raise state.refused(response.status_code, response.headers, body)
                for data in response.chunks:
                    yield from state.feed(data)
                yield from state.close()
        except ProviderError as exc:
            state.failed(exc)
            raise

    async def _astream(self, request: ModelRequest, timeouts: Timeouts) -> AsyncIterator[Chunk]:
        state = _StreamState(self, request)
        http_request = self.wire.build_request(request, stream=True)
        try:
            async with self._async().stream(http_request, timeouts=timeouts) as response:
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
