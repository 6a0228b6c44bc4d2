"""A test store: in memory, idempotent by span id, switchable to failing or hanging."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from steadyhand.errors import StoreError
from steadyhand.tracing import SpanRecord

STORE_HANG = 30.0
"""How long a write blocks while ``hang`` is set (unless ``release`` is set first)."""


class MemoryStore:
    """Keeps spans by id (idempotent); ``down`` makes writes fail, ``hang`` makes them block."""

    def __init__(self) -> None:
        self.spans: dict[str, SpanRecord] = {}
        self.writes = 0
        self.down = False
        self.hang = threading.Event()
        self.release = threading.Event()

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        if self.hang.is_set():
            self.release.wait(STORE_HANG)
        if self.down:
            raise StoreError("store is down (test)")
        self.writes += 1
        for s in spans:
            self.spans[s.span_id] = s
        return len(spans)
