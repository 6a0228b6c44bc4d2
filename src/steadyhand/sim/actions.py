"""What the server loop must do for one request, decided without any I/O by the handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Plain:
    """Write ``data`` (a whole or deliberately partial response) after ``delay`` seconds, then ``then``."""

    data: bytes
    delay: float = 0.0
    then: Literal["keep", "close", "hang"] = "keep"


@dataclass(frozen=True, slots=True)
class Stream:
    """A chunked SSE response: ``head`` and first event after ``ttft``, then one event per ``gap``.

    ``end``: ``finish`` closes the chunked body properly, ``stall`` keeps the connection open and silent,
    ``cut`` closes the connection mid-body.
    """

    head: bytes
    events: list[bytes]
    ttft: float = 0.0
    gap: float = 0.0
    end: Literal["finish", "stall", "cut"] = "finish"


@dataclass(frozen=True, slots=True)
class Reset:
    """Abort the connection with a TCP RST before any byte of the response."""


@dataclass(frozen=True, slots=True)
class Hang:
    """Accept the request and never answer, until the client gives up or the server stops."""


Action = Plain | Stream | Reset | Hang
