"""What only the sync transports do: steadyhand's own (``http_sync.py``, the default) shares one bounded
pool among many threads, waits for a free connection within ``connect``, turns a deadline that runs out
into a ``total`` timeout (never a non-blocking socket's error), and gives a forked child a pool of its
own; httpx is a choice, and the default under a proxy. Every case the transports share runs against
both sync ones in test_async_transports.py and test_httptools_transport.py (through worker threads).
The servers run on the test's event loop; each sync call runs in a worker thread."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

import pytest

from steadyhand import Client, Config, ConfigurationError, ProviderTimeout, Timeouts
from steadyhand.providers import HTTPRequest, HttptoolsTransport, HttpxTransport
from steadyhand.providers._clock import Clock
from steadyhand.providers.capabilities import OPENAI
from steadyhand.providers.http_provider import HTTPProvider, default_transport
from steadyhand.providers.openai_chat import OpenAIChat

from ._raw_server import RawServer, raw_server
from .test_httptools_transport import _ok, script

SLOW = Timeouts(connect=5.0, first_token=2.0, stall=2.0, total=20.0)


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
    return HTTPRequest("POST", url, {"content-type": "application/json"}, body)


async def _send(transport: HttptoolsTransport, request: HTTPRequest, timeouts: Timeouts = SLOW) -> Any:
    return await asyncio.to_thread(transport.send, request, timeouts=timeouts)


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


def _echoes(transport: HttptoolsTransport, server: RawServer) -> bool:
    return transport.send(_post(server.url("/echo")), timeouts=SLOW).body == b"body:{}"


def _report(write: int, call: Callable[[], bool]) -> NoReturn:
    """In a forked child: ``call``'s outcome (0 for True) through the pipe, and out."""
    code = 1
    try:
        code = 0 if call() else 2
    finally:
        os.write(write, bytes([code]))
        os._exit(0)


def _outcome(pid: int, read: int, write: int) -> int:
    """In the parent: the child's outcome (3 when it reported none)."""
    os.close(write)
    got = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    return got[0] if got else 3


async def test_a_forked_child_does_not_use_the_parents_connections(
    own: HttptoolsTransport, server: RawServer
) -> None:
    """Two processes writing on one socket would interleave their requests: the child opens its own."""
    await _send(own, _post(server.url("/echo")))
    assert server.seen.opened == 1

    def fork_and_call() -> int:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            _report(write, lambda: _echoes(own, server))
        return _outcome(pid, read, write)

    assert await asyncio.to_thread(fork_and_call) == 0
    await _send(own, _post(server.url("/echo")))  # the parent's own connection still works
    assert server.seen.opened == 2


async def test_a_connection_in_use_at_close_or_at_a_fork_is_not_pooled(
    own: HttptoolsTransport, server: RawServer
) -> None:
    """A stream open when the transport is closed ends on a closed connection. One open when the process
    forks is closed in the child when its stream ends there, and the child's next call opens its own
    (two processes writing on one socket would interleave their requests)."""

    def read_after_close() -> bytes:
        with own.stream(_post(server.url("/sse")), timeouts=SLOW) as response:
            own.close()
            return b"".join(response.chunks)

    assert await asyncio.to_thread(read_after_close)
    await server.seen.wait(closed=1)
    assert own._idle == {}

    def fork_mid_stream() -> int:
        read, write = os.pipe()
        with own.stream(_post(server.url("/sse")), timeouts=SLOW) as response:
            assert b"".join(response.chunks)
            pid = os.fork()  # both processes now leave the stream, each giving the connection back
        if pid == 0:
            _report(write, lambda: _echoes(own, server))
        return _outcome(pid, read, write)

    assert await asyncio.to_thread(fork_mid_stream) == 0
    assert (await _send(own, _post(server.url("/echo")))).body == b"body:{}"
    assert server.seen.opened == 3  # the stream before close, the stream at the fork, the child's own
