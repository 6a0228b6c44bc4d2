"""A raw asyncio HTTP/1.1 server for transport tests: each path is one behaviour a real upstream can show
(an answer, a hang, a stall mid-body, a cut, a reset, bytes that are not HTTP), and it counts connections
and sees them close, so tests can tell a connection kept for reuse from one the client dropped."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

SSE_EVENTS = [f'data: {{"n": {i}}}\n\n'.encode() for i in range(5)]


@dataclass
class Seen:
    """What the server saw: one entry per request, and connections opened and closed."""

    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    opened: int = 0
    closed: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _note(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait(self, *, opened: int | None = None, closed: int | None = None, within: float = 10) -> None:
        """Until at least ``opened``/``closed`` connections were seen (fails the test after ``within`` s)."""

        async def reached() -> None:
            while (opened is not None and self.opened < opened) or (
                closed is not None and self.closed < closed
            ):
                await self.changed.wait()

        await asyncio.wait_for(reached(), within)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    first, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return first.split(" ")[1], headers, body


class RawServer:
    """Serves on 127.0.0.1; ``url(path)`` is where a behaviour lives."""

    def __init__(self) -> None:
        self.seen = Seen()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.delay = 0.0
        """Seconds ``/late-head`` waits before its head and ``/late-body`` before its body."""

    def url(self, path: str) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.seen.opened += 1
        self.seen._note()
        self.writers.add(writer)
        try:
            while True:
                path, headers, body = await _read_request(reader)
                self.seen.requests.append((path, headers, body))
                if not await self._answer(path, body, reader, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self.writers.discard(writer)
            self.seen.closed += 1
            self.seen._note()
            writer.close()

    async def _answer(
        self, path: str, body: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; False when the connection is done with."""
        chunked = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        if path == "/echo":
            answer = b"body:" + body
            writer.write(
                b"HTTP/1.1 201 Created\r\nX-Thing: 1\r\nRetry-After: 2\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(answer), answer)
            )
        elif path == "/sse":
            writer.write(chunked + b"".join(_chunk(e) for e in SSE_EVENTS) + b"0\r\n\r\n")
        elif path == "/endless":  # an event every 20 ms until the client goes away
            writer.write(chunked)
            while not reader.at_eof():
                writer.write(_chunk(SSE_EVENTS[0]))
                await writer.drain()
                await asyncio.sleep(0.02)
            return False
        elif path == "/hang":
            await reader.read()  # until the client closes
            return False
        elif path in ("/stall", "/stall-plain"):
            if path == "/stall":
                writer.write(chunked + _chunk(SSE_EVENTS[0]))
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" + b"x" * 10)
            await writer.drain()
            await reader.read()
            return False
        elif path in ("/cut", "/cut-plain"):
            if path == "/cut":
                writer.write(chunked + _chunk(SSE_EVENTS[0]))
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" + b"x" * 10)
            await writer.drain()
            return False
        elif path == "/bad-chunk":
            writer.write(chunked + _chunk(SSE_EVENTS[0]))
            await writer.drain()
            await asyncio.sleep(0.05)  # after the answer has started (in one packet, no byte of it is read)
            writer.write(b"zz\r\nnot a chunk\r\n")
            await writer.drain()
            await asyncio.sleep(0.2)
            return False
        elif path == "/reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        elif path == "/not-http":
            writer.write(b"SURPRISE\r\n\r\n")
            await writer.drain()
            return False
        elif path == "/late-head":
            await asyncio.sleep(self.delay)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        elif path == "/late-body":
            writer.write(chunked + _chunk(SSE_EVENTS[0]))
            await writer.drain()
            await asyncio.sleep(self.delay)
            writer.write(_chunk(SSE_EVENTS[1]) + b"0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        return True


@asynccontextmanager
async def raw_server() -> AsyncIterator[RawServer]:
    server = RawServer()
    server.server = await asyncio.start_server(server._handle, "127.0.0.1", 0)
    try:
        yield server
    finally:
        server.server.close()
        for writer in list(server.writers):
            writer.transport.abort()
        with contextlib.suppress(TimeoutError):  # let the handlers see their connections go
            await server.seen.wait(closed=server.seen.opened, within=2)
