"""The sync transports over real sockets, side by side: steadyhand's own (``http_sync.py``, the default)
must do everything httpx's does (the shared cases), and what only it has to get right against hostile
raw-socket servers (stale pooled connections, bytes on an idle connection, HEAD, close-delimited and
compressed bodies, huge heads, resets mid-body, TLS, many threads on a bounded pool, a forked child).
The servers run on the test's event loop; each sync call runs in a worker thread."""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from steadyhand import (
    Client,
    Config,
    ConfigurationError,
    ProviderConnectionError,
    ProviderTimeout,
    StreamInterrupted,
    Timeouts,
)
from steadyhand.providers import HTTPRequest, HttptoolsTransport, HttpxTransport, Transport
from steadyhand.providers._clock import Clock
from steadyhand.providers._http1_wire import MAX_FIELD
from steadyhand.providers.capabilities import OPENAI
from steadyhand.providers.http_provider import HTTPProvider, default_transport
from steadyhand.providers.openai_chat import OpenAIChat

from ._raw_server import SSE_EVENTS, RawServer, raw_server
from .test_httptools_transport import _ok, _reset, certificate, script

__all__ = ["certificate"]  # the shared fixture, used here too

TRANSPORTS: dict[str, Callable[[], Transport]] = {"httptools": HttptoolsTransport, "httpx": HttpxTransport}
QUICK = Timeouts(connect=5.0, first_token=0.3, stall=0.3, total=20.0)
"""Short enough that a hang ends the test quickly; only a hang reaches them."""
SLOW = Timeouts(connect=5.0, first_token=2.0, stall=2.0, total=20.0)


@pytest.fixture(params=list(TRANSPORTS))
def transport(request: pytest.FixtureRequest) -> Iterator[Transport]:
    made = TRANSPORTS[request.param]()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def own() -> Iterator[HttptoolsTransport]:
    made = HttptoolsTransport()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(name="server")
async def _server() -> AsyncIterator[RawServer]:
    async with raw_server() as running:
        yield running


def _post(url: str, body: bytes = b"{}") -> HTTPRequest:
    return HTTPRequest("POST", url, {"content-type": "application/json", "authorization": "Bearer k"}, body)


def _stream_all(transport: Transport, request: HTTPRequest, timeouts: Timeouts) -> list[bytes]:
    with transport.stream(request, timeouts=timeouts) as response:
        assert response.status_code == 200
        return list(response.chunks)


async def _send(transport: Transport, request: HTTPRequest, timeouts: Timeouts = SLOW) -> Any:
    return await asyncio.to_thread(transport.send, request, timeouts=timeouts)


async def _streamed(transport: Transport, request: HTTPRequest, timeouts: Timeouts = SLOW) -> bytes:
    return b"".join(await asyncio.to_thread(_stream_all, transport, request, timeouts))


# -- what every sync transport does ---------------------------------------------------------------------


async def test_sends_bytes_and_lowercases_headers(transport: Transport, server: RawServer) -> None:
    resp = await _send(transport, _post(server.url("/echo"), b"q"), Timeouts())
    assert (resp.status_code, resp.headers["x-thing"], resp.headers["retry-after"]) == (201, "1", "2")
    assert resp.body == b"body:q"
    assert all(name == name.lower() for name in resp.headers)
    ((path, headers, body),) = server.seen.requests
    assert (path, headers["authorization"], headers["content-type"], body) == (
        "/echo", "Bearer k", "application/json", b"q",
    )  # fmt: skip


async def test_streams_the_body_and_reuses_the_connection(transport: Transport, server: RawServer) -> None:
    for _ in range(3):
        assert await _streamed(transport, _post(server.url("/sse")), Timeouts()) == b"".join(SSE_EVENTS)
        await _send(transport, _post(server.url("/echo")), Timeouts())
    assert server.seen.opened == 1  # six calls, one pooled connection


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
    transport: Transport,
    server: RawServer,
    path: str,
    stream: bool,
    timeouts: Timeouts,
    error: type[Exception],
    phase: str | None,
) -> None:
    with pytest.raises(Exception) as info:
        if stream:
            await _streamed(transport, _post(server.url(path)), timeouts)
        else:
            await _send(transport, _post(server.url(path)), timeouts)
    assert type(info.value) is error, repr(info.value)
    assert getattr(info.value, "phase", None) == phase
    assert not isinstance(info.value, httpx.HTTPError)


async def test_a_refused_connection_and_a_bad_url(transport: Transport) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connecting is refused
        with pytest.raises(ProviderConnectionError, match="could not connect"):
            await _send(transport, _post(f"http://127.0.0.1:{port}/"), QUICK)
    with pytest.raises((ConfigurationError, ProviderConnectionError), match="base_url|protocol"):
        await _send(transport, _post("ftp://127.0.0.1/x"), QUICK)


async def test_a_connect_that_hangs_is_a_connect_timeout(transport: Transport) -> None:
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # one connection fills the backlog; the kernel then ignores new handshakes
        filler.connect(listener.getsockname())
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(ProviderTimeout) as info:
            await _send(transport, _post(url), Timeouts(connect=0.3, first_token=5.0))
    assert info.value.phase == "connect"


async def test_the_head_has_first_token_and_the_body_stall(transport: Transport, server: RawServer) -> None:
    server.delay = 1.0
    slow_head = Timeouts(first_token=5.0, stall=0.2, total=20.0)
    assert (await _send(transport, _post(server.url("/late-head")), slow_head)).body == b"ok"
    slow_body = Timeouts(first_token=0.2, stall=5.0, total=20.0)
    assert (
        await _streamed(transport, _post(server.url("/late-body")), slow_body)
        == SSE_EVENTS[0] + SSE_EVENTS[1]
    )


async def test_closing_a_stream_early_closes_its_connection(transport: Transport, server: RawServer) -> None:
    def read_one() -> None:
        with transport.stream(_post(server.url("/endless")), timeouts=Timeouts()) as response:
            for _ in response.chunks:
                break

    await asyncio.to_thread(read_one)
    await server.seen.wait(closed=1)  # the upstream sees the client go, so it stops generating
    await _send(transport, _post(server.url("/echo")), Timeouts())
    assert server.seen.opened == 2  # the dropped connection was not put back in the pool


async def test_connections_set_tcp_nodelay(
    transport: Transport, server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = int(server.url("/").rsplit(":", 1)[1].split("/")[0])
    client_sockets: list[tuple[int, int, Any]] = []
    original = socket.socket.setsockopt

    def recording(self: socket.socket, level: int, option: int, value: Any, *rest: Any) -> None:
        try:
            peer = self.getpeername()[1]
        except OSError:
            peer = None
        if peer == port:
            client_sockets.append((level, option, value))
        original(self, level, option, value, *rest)

    monkeypatch.setattr(socket.socket, "setsockopt", recording)
    await _send(transport, _post(server.url("/echo")), Timeouts())
    assert any(
        (level, option) == (socket.IPPROTO_TCP, socket.TCP_NODELAY) and value
        for level, option, value in client_sockets
    ), client_sockets


def test_httptools_is_the_default_httpx_a_choice_and_a_proxy_picks_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = HTTPProvider(
        OpenAIChat(base_url="http://h/v1", api_key=None, provider_name="p", capabilities=OPENAI)
    )
    assert isinstance(provider._sync(), HttptoolsTransport)
    assert isinstance(default_transport("httpx"), HttpxTransport)
    with pytest.raises(ConfigurationError, match="'httptools' or 'httpx'"):
        default_transport("curl")  # type: ignore[arg-type]
    for config, expected in [
        (Config(), HttptoolsTransport),
        (Config(sync_transport="httpx"), HttpxTransport),
        (Config.load(env={"STEADYHAND_SYNC_TRANSPORT": "httpx"}), HttpxTransport),
    ]:
        with Client(config) as client:
            client.provider(client.resolve("default"))
            assert [type(pool) for pool in client._pools.values()] == [expected]
    with pytest.raises(ConfigurationError, match="sync_transport"):
        Config.load(env={"STEADYHAND_SYNC_TRANSPORT": "curl"})
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert isinstance(default_transport("httptools"), HttpxTransport)


# -- what only steadyhand's own has to get right --------------------------------------------------------


async def test_a_stale_pooled_connection_is_retried_once_on_a_fresh_one(own: HttptoolsTransport) -> None:
    """The server takes the second request on a kept-alive connection, then closes it unanswered: the
    call succeeds on a new connection."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(_ok(b"first" if number == 0 else b"again"))
        await writer.drain()
        if number == 0:
            await server.read_request(reader)  # taken, never answered

    async with script(handler) as server:
        assert (await _send(own, _post(server.url()))).body == b"first"
        assert (await _send(own, _post(server.url()))).body == b"again"
        assert (server.opened, server.requests) == (2, 3)


async def test_a_fresh_connection_closed_unanswered_is_not_retried(own: HttptoolsTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)

    async with script(handler) as server:
        with pytest.raises(ProviderConnectionError, match="before an answer"):
            await _send(own, _post(server.url()))
        assert server.opened == 1


async def test_a_stale_connection_and_a_failing_retry_is_one_error(own: HttptoolsTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        if number == 0:
            writer.write(_ok())
            await writer.drain()
            await server.read_request(reader)

    async with script(handler) as server:
        await _send(own, _post(server.url()))
        with pytest.raises(ProviderConnectionError):
            await _send(own, _post(server.url()))
        assert server.opened == 2  # one retry, not more


async def test_an_idle_connection_the_server_closed_or_wrote_to_is_not_used(own: HttptoolsTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(_ok(b"%d" % number))
        await writer.drain()
        if number % 2:  # keep-alive advertised, then a stray answer nobody asked for
            await asyncio.sleep(0.05)
            writer.write(_ok(b"unasked"))
            await writer.drain()
            await reader.read()
        # else: closed while idle

    async with script(handler) as server:
        bodies = []
        for _ in range(4):
            bodies.append((await _send(own, _post(server.url()))).body)
            await asyncio.sleep(0.2)
        assert (bodies, server.opened, server.requests) == ([b"0", b"1", b"2", b"3"], 4, 4)


async def test_a_head_answer_ends_at_its_head(own: HttptoolsTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n" if number == 0 else _ok(b"after"))
        await writer.drain()
        await reader.read()

    async with script(handler) as server:
        loop = asyncio.get_running_loop()
        started = loop.time()
        head = await _send(own, HTTPRequest("HEAD", server.url(), {}, None))
        assert (head.status_code, head.headers["content-length"], head.body) == (200, "5", b"")
        assert loop.time() - started < 1.0
        assert (await _send(own, _post(server.url()))).body == b"after"
        assert server.opened == 2


async def test_a_close_delimited_body_is_read_to_the_close(own: HttptoolsTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"part two")
        await writer.drain()

    async with script(handler) as server:
        assert (await _send(own, _post(server.url()))).body == b"part one, part two"
        assert await _streamed(own, _post(server.url())) == b"part one, part two"
        assert server.opened == 2  # such a connection is never reused


async def test_a_reset_mid_body_and_a_truncated_chunked_body_are_interrupted(own: HttptoolsTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        if number % 2 == 0:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"x" * 100)
            await writer.drain()
            await asyncio.sleep(0.05)
            _reset(writer)
        else:
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nwo")
            await writer.drain()

    async with script(handler) as server:
        for _ in range(2):
            with pytest.raises(StreamInterrupted, match="mid-answer"):
                await _send(own, _post(server.url()))
        for _ in range(2):
            with pytest.raises(StreamInterrupted, match="mid-answer"):
                await _streamed(own, _post(server.url()))


@pytest.mark.parametrize(
    ("head", "fails"),
    [
        (b"x-big: " + b"a" * (MAX_FIELD - 100) + b"\r\n", False),
        (b"x-big: " + b"a" * (MAX_FIELD + 10) + b"\r\n", True),
        (b"".join(b"x-h%d: %s\r\n" % (i, b"v" * 1000) for i in range(1100)), True),  # 1.1 MB of small ones
    ],
)
async def test_huge_heads_are_refused(own: HttptoolsTransport, head: bytes, fails: bool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n" + head + b"content-length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read()

    async with script(handler) as server:
        if fails:
            with pytest.raises(ProviderConnectionError, match="longer than"):
                await _send(own, _post(server.url()))
        else:
            assert (await _send(own, _post(server.url()))).body == b"ok"


async def test_interim_answers_and_compressed_bodies(own: HttptoolsTransport) -> None:
    packed = gzip.compress(b'{"answer": 42}')

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        while True:
            await server.read_request(reader)
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(packed, b"content-encoding: gzip\r\n"))
            await writer.drain()

    async with script(handler) as server:
        resp = await _send(own, _post(server.url()))
        assert (resp.status_code, resp.body) == (200, b'{"answer": 42}')
        assert await _streamed(own, _post(server.url())) == b'{"answer": 42}'
        assert server.opened == 1


async def test_many_threads_share_a_bounded_pool() -> None:
    """32 threads, 400 calls, 8 connections at most: every answer is its own request's, and a call that
    finds every connection busy waits for one (within ``connect``) instead of failing."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        while True:
            body = await server.read_request(reader)
            await asyncio.sleep(0.001)
            writer.write(_ok(body))
            await writer.drain()

    transport = HttptoolsTransport(max_connections=8)
    async with script(handler) as server:
        sent = [b"%d" % i for i in range(400)]

        def run() -> list[bytes]:
            with ThreadPoolExecutor(max_workers=32) as pool:
                return list(
                    pool.map(lambda b: transport.send(_post(server.url(), b), timeouts=SLOW).body, sent)
                )

        assert await asyncio.to_thread(run) == sent
        assert server.opened <= 8
        assert sum(len(idle) for idle in transport._idle.values()) == server.opened
    transport.close()


async def test_a_full_pool_is_a_connect_timeout(server: RawServer) -> None:
    small = HttptoolsTransport(max_connections=2)
    hold = Timeouts(connect=30.0, first_token=2.0, total=60.0)
    busy = [asyncio.create_task(_send(small, _post(server.url("/hang")), hold)) for _ in range(2)]
    await server.seen.wait(opened=2)
    with pytest.raises(ProviderTimeout) as info:
        await _send(small, _post(server.url("/echo")), Timeouts(connect=0.3))
    assert info.value.phase == "connect" and server.seen.opened == 2
    for task in busy:
        with pytest.raises(ProviderTimeout):
            await task
    assert (await _send(small, _post(server.url("/echo")))).body == b"body:{}"  # the slots came back
    small.close()


async def test_the_request_bytes(own: HttptoolsTransport) -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        while True:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(_ok())
            await writer.drain()

    async with script(handler) as server:
        given = {"User-Agent": "mine/1", "Content-Length": "999", "x-k": "v"}
        await _send(own, HTTPRequest("GET", server.url("/a?b=1"), {}))
        await _send(own, HTTPRequest("POST", server.url("/p"), given, b"xyz"))
        port = server.port
    assert heads == [
        b"GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: steadyhand\r\nAccept: */*\r\n\r\n" % port,
        b"POST /p HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: mine/1\r\nx-k: v\r\nAccept: */*\r\n"
        b"Content-Length: 3\r\n\r\n" % port,
    ]


def test_headers_with_line_breaks_are_refused(own: HttptoolsTransport) -> None:
    for headers in ({"authorization": "Bearer k\r\nx-evil: 1"}, {"x-a": "1", "authorization": "k\n"}):
        with pytest.raises(ConfigurationError, match="'authorization' has a line break"):
            own.send(HTTPRequest("POST", "http://127.0.0.1:9/", headers, b""), timeouts=QUICK)


def test_a_deadline_that_runs_out_is_a_total_timeout(own: HttptoolsTransport) -> None:
    """While waiting for the head, and already spent when connecting (a socket limit of 0 would make
    the socket non-blocking: an OS error, not a timeout)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(ProviderTimeout) as info:
            own.send(_post(url), timeouts=Timeouts(first_token=5.0, total=0.05))
        assert info.value.phase == "total"
        clock = Clock(Timeouts(first_token=5.0, total=5.0))
        clock.deadline = time.monotonic() - 1.0
        with pytest.raises(ProviderTimeout) as info:
            own._exchange(_post(url), clock, streaming=False)
        assert info.value.phase == "total"


async def test_https_with_a_self_signed_certificate(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        while True:
            body = await server.read_request(reader)
            writer.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                % (len(body), body)
            )
            await writer.drain()

    async with script(handler, served) as server:
        trusting = HttptoolsTransport(ssl_context=ssl.create_default_context(cafile=str(cert)))
        for body in (b"one", b"two"):
            assert (await _send(trusting, _post(server.url(scheme="https"), body))).body == body
        assert await _streamed(trusting, _post(server.url(scheme="https"), b"three")) == b"three"
        trusting.close()
        assert server.opened == 1
        default = HttptoolsTransport()  # the system's trust store does not know this certificate
        with pytest.raises(ProviderConnectionError, match="could not connect.*CERTIFICATE_VERIFY_FAILED"):
            await _send(default, _post(server.url(scheme="https")))
        default.close()


async def test_a_forked_child_does_not_use_the_parents_connections(
    own: HttptoolsTransport, server: RawServer
) -> None:
    """Two processes writing on one socket would interleave their requests: the child opens its own."""
    await _send(own, _post(server.url("/echo")))
    assert server.seen.opened == 1

    def fork_and_call() -> int:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: one call, its status through the pipe, and out
            code = 1
            try:
                code = 0 if own.send(_post(server.url("/echo")), timeouts=SLOW).body == b"body:{}" else 2
            finally:
                os.write(write, bytes([code]))
                os._exit(0)
        os.close(write)
        got = os.read(read, 1)
        os.waitpid(pid, 0)
        os.close(read)
        return got[0] if got else 3

    assert await asyncio.to_thread(fork_and_call) == 0
    await _send(own, _post(server.url("/echo")))  # the parent's own connection still works
    assert server.seen.opened == 2
