"""The transports over real sockets, side by side: steadyhand's httptools ones (the defaults, async and
sync), aiohttp and sync httpx must each do everything httpx's async one does: bytes and lower-cased
headers, streamed bodies, every failure as a steadyhand error with its timeout phase, pooled connections
reused, a connection dropped when its stream is closed early or its task cancelled, the pool's limit,
TCP_NODELAY. What only the httptools ones must handle (stale pooled connections, hostile servers, TLS)
is in test_httptools_transport.py, what only the sync ones do (threads, fork) in
test_sync_transports.py; the simulator's faults through the whole client are in
tests/client/test_against_sim.py."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
import pytest

from steadyhand import (
    AsyncClient,
    Config,
    ConfigurationError,
    ProviderConnectionError,
    ProviderTimeout,
    StreamInterrupted,
    Timeouts,
)
from steadyhand.providers import (
    AsyncAiohttpTransport,
    AsyncHttptoolsTransport,
    AsyncHttpxTransport,
    AsyncTransport,
    HTTPRequest,
    HttptoolsTransport,
    HttpxTransport,
)
from steadyhand.providers.capabilities import OPENAI
from steadyhand.providers.http_provider import HTTPProvider, default_async_transport
from steadyhand.providers.openai_chat import OpenAIChat

from ._raw_server import SSE_EVENTS, RawServer, raw_server
from ._threaded import Threaded

ASYNC: dict[str, Callable[[], AsyncTransport]] = {
    "httptools": AsyncHttptoolsTransport,
    "aiohttp": AsyncAiohttpTransport,
    "httpx": AsyncHttpxTransport,
}
TRANSPORTS: dict[str, Callable[[], AsyncTransport]] = {
    **ASYNC,
    "sync httptools": lambda: Threaded(HttptoolsTransport()),
    "sync httpx": lambda: Threaded(HttpxTransport()),
}
"""Every transport, the sync ones driven from worker threads (``_threaded.py``)."""
QUICK = Timeouts(connect=5.0, first_token=0.3, stall=0.3, total=20.0)
"""Short enough that a hang ends the test quickly; only a hang reaches them."""


async def _made(kinds: dict[str, Callable[[], AsyncTransport]], kind: str) -> AsyncIterator[AsyncTransport]:
    made = kinds[kind]()
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture(params=list(TRANSPORTS))
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[AsyncTransport]:
    async for made in _made(TRANSPORTS, request.param):
        yield made


@pytest.fixture(params=list(ASYNC))
async def async_transport(request: pytest.FixtureRequest) -> AsyncIterator[AsyncTransport]:
    """Cases a thread cannot play: a cancelled task, a hundred calls at once."""
    async for made in _made(ASYNC, request.param):
        yield made


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    async with raw_server() as running:
        yield running


def _post(url: str, body: bytes = b"{}") -> HTTPRequest:
    return HTTPRequest("POST", url, {"content-type": "application/json", "authorization": "Bearer k"}, body)


async def _stream_all(transport: AsyncTransport, request: HTTPRequest, timeouts: Timeouts) -> list[bytes]:
    async with transport.stream(request, timeouts=timeouts) as response:
        assert response.status_code == 200
        return [data async for data in response.chunks]


async def test_sends_bytes_and_lowercases_headers(transport: AsyncTransport, server: RawServer) -> None:
    resp = await transport.send(_post(server.url("/echo"), b"q"), timeouts=Timeouts())
    assert (resp.status_code, resp.headers["x-thing"], resp.headers["retry-after"]) == (201, "1", "2")
    assert resp.body == b"body:q"
    assert all(name == name.lower() for name in resp.headers)
    ((path, headers, body),) = server.seen.requests
    assert (path, headers["authorization"], headers["content-type"], body) == (
        "/echo", "Bearer k", "application/json", b"q",
    )  # fmt: skip


async def test_streams_the_body_and_reuses_the_connection(
    transport: AsyncTransport, server: RawServer
) -> None:
    for _ in range(3):
        chunks = await _stream_all(transport, _post(server.url("/sse")), Timeouts())
        assert b"".join(chunks) == b"".join(SSE_EVENTS)
        await transport.send(_post(server.url("/echo")), timeouts=Timeouts())
    assert server.seen.opened == 1  # six calls, one pooled connection


# (path, stream, timeouts) -> (error, phase); failures before and after the head.
FAILURES: list[tuple[str, bool, Timeouts, type[Exception], str | None]] = [
    ("/reset", False, QUICK, ProviderConnectionError, None),
    ("/reset", True, QUICK, ProviderConnectionError, None),
    ("/not-http", False, QUICK, ProviderConnectionError, None),
    ("/not-http", True, QUICK, ProviderConnectionError, None),
    ("/hang", False, QUICK, ProviderTimeout, "first_token"),
    ("/hang", True, QUICK, ProviderTimeout, "first_token"),
    ("/hang", False, Timeouts(first_token=None, stall=0.3), ProviderTimeout, "stall"),
    ("/hang", True, Timeouts(first_token=None, stall=0.3, total=20.0), ProviderTimeout, "stall"),
    ("/hang", False, Timeouts(stall=10.0, total=0.3), ProviderTimeout, "total"),
    ("/hang", True, Timeouts(stall=10.0, total=0.3), ProviderTimeout, "total"),
    ("/stall", True, QUICK, ProviderTimeout, "stall"),
    ("/stall-plain", False, QUICK, ProviderTimeout, "stall"),
    ("/stall", True, Timeouts(stall=10.0, total=0.5), ProviderTimeout, "total"),
    ("/cut", True, QUICK, StreamInterrupted, None),
    ("/cut-plain", False, QUICK, StreamInterrupted, None),
    ("/bad-chunk", True, QUICK, StreamInterrupted, None),
]


@pytest.mark.parametrize(("path", "stream", "timeouts", "error", "phase"), FAILURES)
async def test_failures_are_steadyhand_errors(
    transport: AsyncTransport,
    server: RawServer,
    path: str,
    stream: bool,
    timeouts: Timeouts,
    error: type[Exception],
    phase: str | None,
) -> None:
    with pytest.raises(Exception) as info:
        if stream:
            await _stream_all(transport, _post(server.url(path)), timeouts)
        else:
            await transport.send(_post(server.url(path)), timeouts=timeouts)
    assert type(info.value) is error, repr(info.value)
    assert getattr(info.value, "phase", None) == phase
    assert not isinstance(info.value, aiohttp.ClientError | httpx.HTTPError)


async def test_a_refused_connection_and_a_bad_url(transport: AsyncTransport) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connecting is refused
        with pytest.raises(ProviderConnectionError, match="could not connect"):
            await transport.send(_post(f"http://127.0.0.1:{port}/"), timeouts=QUICK)
    with pytest.raises(ConfigurationError, match="base_url"):
        await transport.send(_post("ftp://127.0.0.1/x"), timeouts=QUICK)


async def test_a_connect_that_hangs_is_a_connect_timeout(transport: AsyncTransport) -> None:
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # one connection fills the backlog; the kernel then ignores new handshakes
        filler.connect(listener.getsockname())
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(ProviderTimeout) as info:
            await transport.send(_post(url), timeouts=Timeouts(connect=0.3, first_token=5.0))
    assert info.value.phase == "connect"


async def test_the_head_has_first_token_and_the_body_stall(
    transport: AsyncTransport, server: RawServer
) -> None:
    """A slow head within ``first_token`` but over ``stall`` is fine, and so is a body gap within ``stall``
    but over ``first_token``: each limit applies to its own part of the answer."""
    server.delay = 1.0
    slow_head = Timeouts(first_token=5.0, stall=0.2, total=20.0)
    assert (await transport.send(_post(server.url("/late-head")), timeouts=slow_head)).body == b"ok"
    slow_body = Timeouts(first_token=0.2, stall=5.0, total=20.0)
    chunks = await _stream_all(transport, _post(server.url("/late-body")), slow_body)
    assert b"".join(chunks) == SSE_EVENTS[0] + SSE_EVENTS[1]


async def test_closing_a_stream_early_closes_its_connection(
    transport: AsyncTransport, server: RawServer
) -> None:
    async with transport.stream(_post(server.url("/endless")), timeouts=Timeouts()) as response:
        async for _ in response.chunks:
            break
    await server.seen.wait(closed=1)  # the upstream sees the client go, so it stops generating
    await transport.send(_post(server.url("/echo")), timeouts=Timeouts())
    assert server.seen.opened == 2  # the dropped connection was not put back in the pool


async def test_cancelling_a_streaming_task_closes_its_connection(
    async_transport: AsyncTransport, server: RawServer
) -> None:
    transport = async_transport
    started = asyncio.Event()

    async def consume() -> None:
        async with transport.stream(_post(server.url("/endless")), timeouts=Timeouts()) as response:
            async for _ in response.chunks:
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await server.seen.wait(closed=1)


async def test_the_pool_holds_at_most_100_connections(
    async_transport: AsyncTransport, server: RawServer
) -> None:
    """A call that finds every connection busy waits within ``connect``, then is a connect timeout;
    cancelling the busy calls closes their connections."""
    transport = async_transport
    hold = Timeouts(connect=30.0, first_token=60.0, total=60.0)
    busy = [
        asyncio.create_task(transport.send(_post(server.url("/hang")), timeouts=hold)) for _ in range(100)
    ]
    await server.seen.wait(opened=100, within=30)
    with pytest.raises(ProviderTimeout) as info:
        await transport.send(_post(server.url("/echo")), timeouts=Timeouts(connect=0.3))
    assert info.value.phase == "connect"
    assert server.seen.opened == 100
    for task in busy:
        task.cancel()
    await asyncio.gather(*busy, return_exceptions=True)
    await server.seen.wait(closed=100, within=30)


async def test_connections_set_tcp_nodelay(
    transport: AsyncTransport, server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = int(server.url("/").rsplit(":", 1)[1].split("/")[0])
    client_sockets: list[tuple[int, int, Any]] = []
    original = socket.socket.setsockopt

    def recording(self: socket.socket, level: int, option: int, value: Any, *rest: Any) -> None:
        try:
            peer = self.getpeername()[1]
        except OSError:
            peer = None
        if peer == port:  # a socket connected to the server: the client's side
            client_sockets.append((level, option, value))
        original(self, level, option, value, *rest)

    monkeypatch.setattr(socket.socket, "setsockopt", recording)
    await transport.send(_post(server.url("/echo")), timeouts=Timeouts())
    assert any(
        (level, option) == (socket.IPPROTO_TCP, socket.TCP_NODELAY) and value
        for level, option, value in client_sockets
    ), client_sockets


def _provider() -> HTTPProvider:
    return HTTPProvider(
        OpenAIChat(base_url="http://h/v1", api_key=None, provider_name="p", capabilities=OPENAI)
    )


async def test_httptools_is_the_default_and_aiohttp_and_httpx_choices() -> None:
    assert isinstance(_provider()._async(), AsyncHttptoolsTransport)
    assert isinstance(default_async_transport("aiohttp"), AsyncAiohttpTransport)
    assert isinstance(default_async_transport("httpx"), AsyncHttpxTransport)
    with pytest.raises(ConfigurationError, match="'httptools', 'aiohttp' or 'httpx'"):
        default_async_transport("curl")  # type: ignore[arg-type]
    for config, expected in [
        (Config(), AsyncHttptoolsTransport),
        (Config(async_transport="aiohttp"), AsyncAiohttpTransport),
        (Config(async_transport="httpx"), AsyncHttpxTransport),
        (Config.load(env={"STEADYHAND_ASYNC_TRANSPORT": "httpx"}), AsyncHttpxTransport),
    ]:
        client = AsyncClient(config)
        client.provider(client.resolve("default"))
        assert [type(pool) for pool in client._pools.values()] == [expected]
        await client.aclose()
    with pytest.raises(ConfigurationError, match="async_transport"):
        Config.load(env={"STEADYHAND_ASYNC_TRANSPORT": "curl"})


def test_importing_the_client_loads_no_http_library() -> None:
    code = (
        "import sys; from steadyhand import AsyncClient, Client, Config; AsyncClient(Config()); "
        "print(sorted(m for m in ('aiohttp', 'httptools', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
