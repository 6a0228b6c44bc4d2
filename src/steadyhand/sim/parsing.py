"""What the simulator's and the gateway's HTTP/1.1 protocols share: httptools' header and body
callbacks with their size limits, and the one timer each connection runs.

Each protocol keeps its own ``on_message_begin`` / ``on_message_complete`` and its own refusal
(the simulator swallows the rest of a refused request, the gateway half-closes): ``_refuse`` is
called at most once per request, for 431 (headers too large) or 413 (body too large).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

__all__ = ["Limits", "RequestParsing"]


class Limits(Protocol):
    @property
    def max_header_bytes(self) -> int: ...

    @property
    def max_body_bytes(self) -> int: ...


class _Core(Protocol):
    @property
    def limits(self) -> Limits: ...


class RequestParsing:
    """Mixin for an ``asyncio.Protocol`` fed by ``httptools.HttpRequestParser(self)``."""

    core: _Core
    _headers: dict[str, str]
    _body: list[bytes]
    _size: int
    _refused: bool
    _timer: asyncio.TimerHandle | None

    def _refuse(self, status: int) -> None:
        raise NotImplementedError

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self._size += len(name) + len(value)
        if self._size > self.core.limits.max_header_bytes:
            if not self._refused:
                self._refuse(431)
            return
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._size = 0
        length = self._headers.get("content-length", "")
        if length.isdigit() and int(length) > self.core.limits.max_body_bytes and not self._refused:
            self._refuse(413)

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._size += len(body)
        if self._size > self.core.limits.max_body_bytes:
            self._refuse(413)
            return
        self._body.append(body)
