"""How a streamed answer reaches the socket: the head and first piece at once, the pieces written in
one event-loop iteration together at its end, in order, and nothing after the client has gone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from steadyhand.server.http import Connection, Responder, ServerCore
from steadyhand.sim.http import LAST_CHUNK, chunk


class _Transport(asyncio.Transport):
    """Records each write; the rest is what Connection asks of a transport."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


async def _no_handler(*_: Any) -> None:
    return None


def _connection() -> tuple[Connection, _Transport]:
    core = ServerCore(_no_handler, lambda status, path, headers: b"")
    conn = Connection(core)
    transport = _Transport()
    conn.connection_made(transport)
    return conn, transport


def test_pieces_of_one_iteration_leave_in_one_write_after_the_head() -> None:
    async def main() -> list[bytes]:
        conn, transport = _connection()
        out = Responder(conn, keep_alive=True)
        out.start(200, [("content-type", "text/event-stream")], b"first")
        assert len(transport.writes) == 1 and transport.writes[0].endswith(chunk(b"first"))
        for piece in (b"a", b"b", b"c"):
            assert out.push(piece) is False  # the client reads: no need to wait
        assert len(transport.writes) == 1  # held until the loop comes round
        await asyncio.sleep(0)
        assert transport.writes[1:] == [chunk(b"a") + chunk(b"b") + chunk(b"c")]
        await out.write(b"d")
        out.end(b"last")  # what is held goes first, in the same write
        conn.connection_lost(None)
        return transport.writes

    writes = asyncio.run(main())
    assert writes[2:] == [chunk(b"d") + chunk(b"last") + LAST_CHUNK]


def test_a_gone_client_gets_nothing_more_and_the_writer_stops() -> None:
    async def main() -> list[bytes]:
        conn, transport = _connection()
        out = Responder(conn, keep_alive=True)
        out.start(200, [], b"first")
        out.push(b"held")
        conn.connection_lost(None)
        assert out.push(b"more") is True  # the caller must drain, and draining says the client left
        with pytest.raises(ConnectionResetError):
            await out.drain()
        await asyncio.sleep(0)
        return transport.writes

    assert len(asyncio.run(main())) == 1
