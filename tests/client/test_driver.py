"""The HTTP driver and transports with fakes: status handling, stream bookkeeping, httpx error mapping.

Each driver test runs along the sync and the async path; the real async transports (aiohttp and httpx)
are held to the same behaviour over sockets in tests/providers/test_async_transports.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest

from steadyhand import (
    CallContext,
    ModelRequest,
    ModelResponse,
    ProviderConnectionError,
    ProviderTimeout,
    RateLimited,
    StreamInterrupted,
    Timeouts,
)
from steadyhand.context import NO_CONTEXT
from steadyhand.providers.base import AsyncHTTPStream, HTTPRequest, HTTPResponse, HTTPStream, WireFormat
from steadyhand.providers.http import HttpxTransport
from steadyhand.providers.http_provider import HTTPProvider
from steadyhand.testing import text_response
from steadyhand.types import Chunk, Message

REQ = ModelRequest(model="m-1", messages=[Message(role="user", content="hi")])


class LineDecoder:
    """Each line is a chunk; the body must end with ``END`` or the stream was interrupted."""

    def __init__(self) -> None:
        self.buffer = b""
        self.closed = False

    def feed(self, data: bytes) -> list[Chunk]:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        return [Chunk(text=line.decode()) for line in lines if line != b"END"]

    def close(self) -> list[Chunk]:
        self.closed = True
        if self.buffer != b"END":
            raise StreamInterrupted("no END")
        return [Chunk(finish_reason="stop")]


class FakeWire(WireFormat):
    name = "fake"

    def __init__(self) -> None:
        self.provider_name = "fakeprov"
        self.decoders: list[LineDecoder] = []

    def build_request(self, request: ModelRequest, *, stream: bool) -> HTTPRequest:
        return HTTPRequest("POST", "http://fake/x", {"authorization": "Bearer k"}, request.model.encode())

    def parse_response(self, response: HTTPResponse, request: ModelRequest) -> ModelResponse:
        return text_response(response.body.decode(), model=request.model, provider=self.provider_name)

    def stream_decoder(self, request: ModelRequest) -> LineDecoder:
        self.decoders.append(LineDecoder())
        return self.decoders[-1]

    def map_error(
        self, status_code: int, headers: Mapping[str, str], body: bytes, model: str | None
    ) -> Exception:
        return RateLimited(body.decode(), status_code=status_code, retry_after=float(headers["retry-after"]))


class FakeTransport:
    def __init__(self, status: int, body: bytes | list[bytes], *, cut: bool = False) -> None:
        self.status, self.body, self.cut = status, body, cut
        self.seen: list[tuple[HTTPRequest, Timeouts]] = []

    def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        self.seen.append((request, timeouts))
        assert isinstance(self.body, bytes)
        return HTTPResponse(self.status, {"retry-after": "2"}, self.body)

    @contextmanager
    def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> Iterator[HTTPStream]:
        self.seen.append((request, timeouts))
        parts = self.body if isinstance(self.body, list) else [self.body]

        def chunks() -> Iterator[bytes]:
            yield from parts
            if self.cut:
                raise StreamInterrupted("the connection closed mid-answer")

        yield HTTPStream(self.status, {"retry-after": "2"}, chunks())

    def close(self) -> None:
        pass


class AsyncFakeTransport:
    """The same fake behind the async interface, so each driver test runs both paths."""

    def __init__(self, inner: FakeTransport) -> None:
        self.inner = inner

    async def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        return self.inner.send(request, timeouts=timeouts)

    @asynccontextmanager
    async def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> AsyncIterator[AsyncHTTPStream]:
        with self.inner.stream(request, timeouts=timeouts) as response:

            async def chunks() -> AsyncIterator[bytes]:
                for data in response.chunks:
                    yield data

            yield AsyncHTTPStream(response.status_code, response.headers, chunks())

    async def aclose(self) -> None:
        pass


class Via:
    """Drives an HTTPProvider over a fake transport along the sync or the async path."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def provider(self, wire: FakeWire, transport: FakeTransport, **kwargs: Any) -> HTTPProvider:
        if self.mode == "sync":
            return HTTPProvider(wire, transport=transport, **kwargs)
        return HTTPProvider(wire, async_transport=AsyncFakeTransport(transport), **kwargs)

    def complete(self, provider: HTTPProvider, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        if self.mode == "sync":
            return provider.complete(REQ, ctx=ctx)
        return asyncio.run(provider.acomplete(REQ, ctx=ctx))

    def stream(self, provider: HTTPProvider) -> list[Chunk]:
        if self.mode == "sync":
            return list(provider.stream(REQ))

        async def collect() -> list[Chunk]:
            return [chunk async for chunk in provider.astream(REQ)]

        return asyncio.run(collect())


@pytest.fixture(params=["sync", "async"])
def via(request: pytest.FixtureRequest) -> Via:
    return Via(request.param)


def test_complete_parses_a_2xx_and_maps_an_error_status(via: Via) -> None:
    assert via.complete(via.provider(FakeWire(), FakeTransport(200, b"hello"))).text == "hello"
    with pytest.raises(RateLimited) as info:
        via.complete(via.provider(FakeWire(), FakeTransport(429, b"slow down")))
    assert (info.value.retry_after, info.value.provider, info.value.model) == (2.0, "fakeprov", "m-1")


def test_stream_decodes_chunks_and_closes_the_decoder(via: Via) -> None:
    wire = FakeWire()
    chunks = via.stream(via.provider(wire, FakeTransport(200, [b"a\nb", b"c\nEND"])))
    assert [c.text for c in chunks if c.text] == ["a", "bc"]
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.estimated  # no usage sent: counted locally
    assert wire.decoders[0].closed


def test_a_refused_stream_raises_the_mapped_error(via: Via) -> None:
    with pytest.raises(RateLimited, match="busy"):
        via.stream(via.provider(FakeWire(), FakeTransport(429, [b"bu", b"sy"])))


def test_a_cut_stream_is_interrupted_with_the_partial_text(via: Via) -> None:
    provider = via.provider(FakeWire(), FakeTransport(200, [b"one\ntwo\n"], cut=True))
    with pytest.raises(StreamInterrupted) as info:
        via.stream(provider)
    assert info.value.partial_text == "onetwo"
    assert info.value.provider == "fakeprov"


def test_a_body_without_its_end_marker_is_interrupted(via: Via) -> None:
    with pytest.raises(StreamInterrupted):
        via.stream(via.provider(FakeWire(), FakeTransport(200, [b"one\ntw"])))


def test_the_transport_clock_starts_from_the_remaining_budget(via: Via) -> None:
    transport = FakeTransport(200, b"x")
    provider = via.provider(FakeWire(), transport, timeouts=Timeouts(connect=5.0, total=10.0))
    via.complete(provider, CallContext.with_timeout(2.0))
    via.complete(provider, CallContext.with_timeout(50.0))
    via.complete(provider)
    (_, tight), (_, loose), (_, none) = transport.seen
    assert tight.total is not None and 1.0 < tight.total <= 2.0  # what was left of 2 s when it was sent
    assert tight.connect is not None and tight.connect <= tight.total
    assert loose == none == Timeouts(connect=5.0, total=10.0)


def test_timeouts_capped_by_a_deadline() -> None:
    base = Timeouts(connect=5.0, first_token=None, stall=60.0, total=600.0)
    assert base.capped(None) is base
    assert base.capped(3.0) == Timeouts(connect=3.0, first_token=None, stall=3.0, total=3.0)
    assert Timeouts(connect=1.0, total=2.0).capped(3.0) == Timeouts(connect=1.0, total=2.0)
    assert Timeouts(total=None).capped(4.0).total == 4.0


def test_a_passed_deadline_is_a_timeout_before_anything_is_sent(via: Via) -> None:
    transport = FakeTransport(200, b"x")
    with pytest.raises(ProviderTimeout) as info:
        via.complete(via.provider(FakeWire(), transport), CallContext(deadline=0.0))
    assert info.value.phase == "total" and transport.seen == []


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "5", True])
def test_timeouts_refuse_non_positive_limits(bad: object) -> None:
    with pytest.raises(ValueError, match="positive number"):
        Timeouts(connect=bad)  # type: ignore[arg-type]


def _mock(handler: object) -> HttpxTransport:
    return HttpxTransport(httpx.Client(transport=httpx.MockTransport(handler)))  # type: ignore[arg-type]


def test_httpx_transport_sends_bytes_and_lowercases_headers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer k"
        return httpx.Response(201, headers={"X-Thing": "1"}, content=b"body:" + request.content)

    resp = _mock(handler).send(
        HTTPRequest("POST", "http://h/x", {"authorization": "Bearer k"}, b"q"), timeouts=Timeouts()
    )
    assert (resp.status_code, resp.headers["x-thing"], resp.body) == (201, "1", b"body:q")


@pytest.mark.parametrize(
    ("exc", "expected", "phase"),
    [
        (httpx.ConnectError("refused"), ProviderConnectionError, None),
        (httpx.RemoteProtocolError("reset"), ProviderConnectionError, None),
        (httpx.ConnectTimeout("slow"), ProviderTimeout, "connect"),
        (httpx.ReadTimeout("slow"), ProviderTimeout, "first_token"),
    ],
)
def test_httpx_errors_never_leak(exc: Exception, expected: type[Exception], phase: str | None) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(expected) as info:
        _mock(handler).send(HTTPRequest("GET", "http://h/", {}), timeouts=Timeouts(first_token=1.0))
    assert getattr(info.value, "phase", None) == phase
    assert not isinstance(info.value, httpx.HTTPError)
