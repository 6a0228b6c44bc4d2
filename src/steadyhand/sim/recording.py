"""Every request the simulator saw, so tests can assert attempts, gaps and the models tried."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization"})


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received; secrets in headers are redacted."""

    time: float
    """``time.monotonic()`` when the request started arriving."""
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names; authorization and API-key headers redacted."""
    body: Any
    """The parsed JSON body, or None when absent or not JSON."""
    model: str | None
    stream: bool


class Recorder:
    """A thread-safe, bounded log (oldest entries drop first past ``limit``; 0 records nothing)."""

    def __init__(self, *, limit: int) -> None:
        self._lock = threading.Lock()
        self.limit = limit
        self._items: deque[RecordedRequest] = deque(maxlen=limit)

    def add(self, *, time: float, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        """Record one request (nothing at all when the limit is 0)."""
        if not self.limit:
            return
        safe = {k: (REDACTED if k in SECRET_HEADERS else v) for k, v in headers.items()}
        model = body.get("model") if isinstance(body, dict) else None
        stream = bool(body.get("stream")) if isinstance(body, dict) else False
        item = RecordedRequest(
            time, method, path, safe, body, model if isinstance(model, str) else None, stream
        )
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[RecordedRequest]:
        """A copy, in arrival order."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._items.clear()
