"""What only steadyhand's own transports (``http_httptools.py``, and ``http_sync.py`` through worker
threads) have to get right, against hostile raw-socket servers: stale pooled connections retried once,
bytes on an idle connection, close-delimited and compressed bodies, huge heads, resets mid-body, the
request's bytes, and https against a self-signed certificate; for the asyncio one also back-pressure,
the pool's bound under load and a cancelled call leaving nothing in the pool. The cases every transport
shares run in test_async_transports.py."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from steadyhand import (
    ConfigurationError,
    ProviderConnectionError,
    ProviderTimeout,
    StreamInterrupted,
    Timeouts,
)
from steadyhand.providers import (
    AsyncAiohttpTransport,
    AsyncHttptoolsTransport,
    AsyncTransport,
    HTTPRequest,
    HttptoolsTransport,
)
from steadyhand.providers._http1 import _PAUSE_AT, MAX_FIELD, Connection
from steadyhand.providers.http_provider import default_async_transport

from ._threaded import Threaded

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
QUICK = Timeouts(connect=5.0, first_token=2.0, stall=2.0, total=20.0)


class Script:
    """A server whose every connection runs ``handler`` (given the connection's number, from 0)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.opened = 0
        self.requests = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number, self.opened = self.opened, self.opened + 1
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.writers.add(writer)
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                await self.handler(reader, writer, number)
        finally:
            self.writers.discard(writer)
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = await reader.readexactly(length)
        self.requests += 1
        return body


@asynccontextmanager
async def script(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Script]:
    running = Script(handler)
    running.server = await asyncio.start_server(running._handle, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield running
    finally:
        running.server.close()
        for writer in list(running.writers):
            writer.transport.abort()
        await asyncio.sleep(0.01)  # the handlers see their connections go


OWN: dict[str, Callable[..., AsyncTransport]] = {
    "async": AsyncHttptoolsTransport,
    "sync": lambda **options: Threaded(HttptoolsTransport(**options)),
}
"""steadyhand's own transports, the sync one driven from worker threads (``_threaded.py``)."""


@pytest.fixture(params=list(OWN))
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[AsyncTransport]:
    made = OWN[request.param]()
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture
async def async_transport() -> AsyncIterator[AsyncHttptoolsTransport]:
    """What only the asyncio connection has: back-pressure, a cancelled task."""
    made = AsyncHttptoolsTransport()
    try:
        yield made
    finally:
        await made.aclose()


def _post(url: str, body: bytes = b"{}") -> HTTPRequest:
    return HTTPRequest("POST", url, {"content-type": "application/json"}, body)


def _ok(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def _reset(writer: asyncio.StreamWriter) -> None:
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_a_stale_pooled_connection_is_retried_once_on_a_fresh_one(
    transport: AsyncTransport,
) -> None:
    """The server takes the second request on a kept-alive connection, then closes it unanswered (as when
    it closed the idle connection just as the request went out): the call succeeds on a new connection."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(_ok(b"first" if number == 0 else b"again"))
        await writer.drain()
        if number == 0:
            await server.read_request(reader)  # taken, never answered

    async with script(handler) as server:
        assert (await transport.send(_post(server.url()), timeouts=QUICK)).body == b"first"
        assert (await transport.send(_post(server.url()), timeouts=QUICK)).body == b"again"
        assert (server.opened, server.requests) == (2, 3)


async def test_a_fresh_connection_closed_unanswered_is_not_retried(
    transport: AsyncTransport,
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)

    async with script(handler) as server:
        with pytest.raises(ProviderConnectionError, match="before an answer"):
            await transport.send(_post(server.url()), timeouts=QUICK)
        assert server.opened == 1


async def test_a_stale_connection_and_a_failing_retry_is_one_error(
    transport: AsyncTransport,
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        if number == 0:
            writer.write(_ok())
            await writer.drain()
            await server.read_request(reader)

    async with script(handler) as server:
        await transport.send(_post(server.url()), timeouts=QUICK)
        with pytest.raises(ProviderConnectionError):
            await transport.send(_post(server.url()), timeouts=QUICK)
        assert server.opened == 2  # one retry, not more


async def test_an_idle_connection_the_server_closed_is_not_used(transport: AsyncTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(_ok())
        await writer.drain()  # keep-alive advertised, then closed while idle

    async with script(handler) as server:
        for _ in range(3):
            assert (await transport.send(_post(server.url()), timeouts=QUICK)).body == b"ok"
            await asyncio.sleep(0.05)
        assert (server.opened, server.requests) == (3, 3)


async def test_a_head_answer_ends_at_its_head(transport: AsyncTransport) -> None:
    """A HEAD answer carries the Content-Length of the body a GET would get, and no body: the call ends
    at the head instead of waiting out the stall limit for bytes that never come."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n" if number == 0 else _ok(b"after"))
        await writer.drain()
        await reader.read()

    async with script(handler) as server:
        started = asyncio.get_running_loop().time()
        head = await transport.send(HTTPRequest("HEAD", server.url(), {}, None), timeouts=QUICK)
        assert (head.status_code, head.headers["content-length"], head.body) == (200, "5", b"")
        assert asyncio.get_running_loop().time() - started < 1.0
        assert (await transport.send(_post(server.url()), timeouts=QUICK)).body == b"after"
        assert server.opened == 2  # the parser still expects 5 bytes there: that connection is not reused


async def test_bytes_on_an_idle_connection_drop_it(transport: AsyncTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        while True:
            await server.read_request(reader)
            writer.write(_ok(b"%d" % number))
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(_ok(b"unasked"))  # a stray answer nobody asked for

    async with script(handler) as server:
        first = await transport.send(_post(server.url()), timeouts=QUICK)
        await asyncio.sleep(0.2)
        second = await transport.send(_post(server.url()), timeouts=QUICK)
        assert (first.body, second.body, server.opened) == (b"0", b"1", 2)


async def test_a_close_delimited_body_is_read_to_the_close(transport: AsyncTransport) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"part two")
        await writer.drain()

    async with script(handler) as server:
        assert (await transport.send(_post(server.url()), timeouts=QUICK)).body == b"part one, part two"
        async with transport.stream(_post(server.url()), timeouts=QUICK) as response:
            assert b"".join([data async for data in response.chunks]) == b"part one, part two"
        assert server.opened == 2  # such a connection is never reused


async def test_a_reset_mid_body_and_a_truncated_chunked_body_are_interrupted(
    transport: AsyncTransport,
) -> None:
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
                await transport.send(_post(server.url()), timeouts=QUICK)
        for _ in range(2):
            with pytest.raises(StreamInterrupted, match="mid-answer"):
                async with transport.stream(_post(server.url()), timeouts=QUICK) as response:
                    async for _data in response.chunks:
                        pass


@pytest.mark.parametrize(
    ("head", "fails"),
    [
        (b"x-big: " + b"a" * (MAX_FIELD - 100) + b"\r\n", False),
        (b"x-big: " + b"a" * (MAX_FIELD + 10) + b"\r\n", True),
        (b"".join(b"x-h%d: %s\r\n" % (i, b"v" * 1000) for i in range(1100)), True),  # 1.1 MB of small ones
    ],
)
async def test_huge_heads_are_refused(transport: AsyncTransport, head: bytes, fails: bool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n" + head + b"content-length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read()

    async with script(handler) as server:
        if fails:
            with pytest.raises(ProviderConnectionError, match="longer than"):
                await transport.send(_post(server.url()), timeouts=QUICK)
        else:
            assert (await transport.send(_post(server.url()), timeouts=QUICK)).body == b"ok"


async def test_interim_answers_and_compressed_bodies(transport: AsyncTransport) -> None:
    packed = gzip.compress(b'{"answer": 42}')

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        while True:
            await server.read_request(reader)
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(packed, b"content-encoding: gzip\r\n"))
            await writer.drain()

    async with script(handler) as server:
        resp = await transport.send(_post(server.url()), timeouts=QUICK)
        assert (resp.status_code, resp.body) == (200, b'{"answer": 42}')
        async with transport.stream(_post(server.url()), timeouts=QUICK) as streamed:
            assert b"".join([data async for data in streamed.chunks]) == b'{"answer": 42}'
        assert server.opened == 1


async def test_a_slow_consumer_pauses_reading(
    async_transport: AsyncHttptoolsTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 MiB offered at once to a consumer slower than the socket: reading pauses, so the client holds
    little more than its pause threshold unread, and every byte still arrives in order."""
    transport = async_transport
    payload = bytes(range(256)) * (8 * 4096)
    unread: list[tuple[int, bool]] = []
    original = Connection.on_body

    def recording(self: Connection, body: bytes) -> None:
        original(self, body)
        unread.append((self.buffered, self.paused))

    monkeypatch.setattr(Connection, "on_body", recording)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(payload) + payload)
        await writer.drain()

    async with script(handler) as server:
        got = []
        async with transport.stream(_post(server.url()), timeouts=QUICK) as response:
            async for data in response.chunks:
                got.append(data)
                await asyncio.sleep(0.002)
        assert b"".join(got) == payload
        assert any(paused for _, paused in unread)
        assert max(size for size, _ in unread) <= _PAUSE_AT + 256 * 1024  # the threshold and one read


async def test_a_cancelled_call_leaves_nothing_in_the_pool(async_transport: AsyncHttptoolsTransport) -> None:
    transport = async_transport

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
        await writer.drain()
        await reader.read()

    async with script(handler) as server:
        task = asyncio.create_task(transport.send(_post(server.url()), timeouts=QUICK))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert all(not idle for idle in transport._idle.values())
        assert transport._active == 0


async def test_many_concurrent_calls_share_a_bounded_pool() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        while True:
            body = await server.read_request(reader)
            await asyncio.sleep(0.001)
            writer.write(_ok(body))
            await writer.drain()

    transport = AsyncHttptoolsTransport(max_connections=8)
    async with script(handler) as server:
        sent = [b"%d" % i for i in range(400)]
        answers = await asyncio.gather(
            *(transport.send(_post(server.url(), b), timeouts=QUICK) for b in sent)
        )
        assert [a.body for a in answers] == sent
        assert server.opened == 8
    await transport.aclose()


async def test_the_request_bytes(transport: AsyncTransport) -> None:
    """Host and Content-Length are the transport's; User-Agent and Accept are defaults the caller may
    replace (never sent twice); a GET without a body has no Content-Length."""
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        while True:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(_ok())
            await writer.drain()

    async with script(handler) as server:
        given = {"User-Agent": "mine/1", "Content-Length": "999", "x-k": "v"}
        await transport.send(HTTPRequest("GET", server.url("/a?b=1"), {}), timeouts=QUICK)
        await transport.send(HTTPRequest("POST", server.url("/p"), given, b"xyz"), timeouts=QUICK)
        port = server.port
    assert heads == [
        b"GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: steadyhand\r\nAccept: */*\r\n\r\n" % port,
        b"POST /p HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: mine/1\r\nx-k: v\r\nAccept: */*\r\n"
        b"Content-Length: 3\r\n\r\n" % port,
    ]


async def test_headers_with_line_breaks_are_refused(transport: AsyncTransport) -> None:
    for headers in ({"authorization": "Bearer k\r\nx-evil: 1"}, {"x-a": "1", "authorization": "k\n"}):
        bad = HTTPRequest("POST", "http://127.0.0.1:9/", headers, b"")
        with pytest.raises(ConfigurationError, match="'authorization' has a line break"):
            await transport.send(bad, timeouts=QUICK)
    with pytest.raises(ConfigurationError, match="colon"):
        await transport.send(HTTPRequest("GET", "http://127.0.0.1:9/", {"a:b": "c"}), timeouts=QUICK)


async def test_a_host_that_is_not_a_name_is_a_configuration_error(transport: AsyncTransport) -> None:
    """An empty label or one over 63 characters: the resolver's codec would raise a bare UnicodeError."""
    for host in ("a..b", "a" * 64 + ".example"):
        with pytest.raises(ConfigurationError, match="is not a host name"):
            await transport.send(HTTPRequest("GET", f"http://{host}/", {}), timeouts=QUICK)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize("kind", list(OWN))
async def test_https_with_a_self_signed_certificate(certificate: tuple[Path, Path], kind: str) -> None:
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
        trusting = OWN[kind](ssl_context=ssl.create_default_context(cafile=str(cert)))
        for body in (b"one", b"two"):
            assert (await trusting.send(_post(server.url(scheme="https"), body), timeouts=QUICK)).body == body
        async with trusting.stream(_post(server.url(scheme="https"), b"three"), timeouts=QUICK) as response:
            assert b"".join([data async for data in response.chunks]) == b"three"
        await trusting.aclose()
        assert server.opened == 1
        default = OWN[kind]()  # the system's trust store does not know this certificate
        with pytest.raises(ProviderConnectionError, match="could not connect.*CERTIFICATE_VERIFY_FAILED"):
            await default.send(_post(server.url(scheme="https")), timeouts=QUICK)
        await default.aclose()


@pytest.mark.parametrize("kind", list(OWN))
async def test_the_default_tls_offers_http_1_1_by_alpn(
    certificate: tuple[Path, Path], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The system's trust store (here told to trust the test's certificate) and ALPN ``http/1.1``, as
    the stdlib's ``http.client`` sends it: some front ends pick the protocol from it."""
    cert, key = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    served.set_alpn_protocols(["h2", "http/1.1"])
    chosen: list[str | None] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        chosen.append(writer.get_extra_info("ssl_object").selected_alpn_protocol())
        await server.read_request(reader)
        writer.write(_ok())
        await writer.drain()

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    async with script(handler, served) as server:
        made = OWN[kind]()
        assert (await made.send(_post(server.url(scheme="https")), timeouts=QUICK)).body == b"ok"
        await made.aclose()
    assert chosen == ["http/1.1"]


def test_a_proxy_setting_picks_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(default_async_transport("httptools"), AsyncHttptoolsTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert isinstance(default_async_transport("httptools"), AsyncAiohttpTransport)


def test_on_uvloop_as_the_gateway_runs_it() -> None:
    """The gateway serves on uvloop, whose transports are not asyncio's: answers, streams, a stale
    connection retried, a stall timed out and a cancelled call, on a uvloop event loop."""
    import uvloop

    async def scenario() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
            while True:
                body = await server.read_request(reader)
                if body == b"stall":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
                    await writer.drain()
                    await reader.read()
                    return
                writer.write(_ok(body))
                await writer.drain()
                if body == b"then-close":
                    await server.read_request(reader)  # taken, never answered
                    return

        transport = AsyncHttptoolsTransport()
        async with script(handler) as server:
            assert (await transport.send(_post(server.url(), b"a"), timeouts=QUICK)).body == b"a"
            async with transport.stream(_post(server.url(), b"b"), timeouts=QUICK) as response:
                assert b"".join([data async for data in response.chunks]) == b"b"
            await transport.send(_post(server.url(), b"then-close"), timeouts=QUICK)
            assert (await transport.send(_post(server.url(), b"c"), timeouts=QUICK)).body == b"c"
            with pytest.raises(ProviderTimeout) as info:
                await transport.send(_post(server.url(), b"stall"), timeouts=Timeouts(stall=0.2))
            assert info.value.phase == "stall"
            task = asyncio.create_task(transport.send(_post(server.url(), b"stall"), timeouts=QUICK))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert transport._active == 0 and server.opened == 3  # the retry, the stall: each a new one
        await transport.aclose()

    uvloop.run(scenario())
