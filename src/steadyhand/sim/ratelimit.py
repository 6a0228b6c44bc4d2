"""Sliding-window RPM/TPM limiting per model, with the numbers the rate-limit headers report."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

WINDOW = 60.0
UNLIMITED_REQUESTS = 10_000
UNLIMITED_TOKENS = 30_000_000


@dataclass(frozen=True, slots=True)
class RateSnapshot:
    """Limits, what remains and seconds until the window frees capacity (after this request)."""

    limit_requests: int
    remaining_requests: int
    reset_requests: float
    limit_tokens: int
    remaining_tokens: int
    reset_tokens: float
    retry_after: float | None = None
    """Set when the request is refused: seconds until it would be accepted."""
    exceeded: str | None = None
    """``requests`` or ``tokens`` when refused."""


UNLIMITED = RateSnapshot(
    UNLIMITED_REQUESTS, UNLIMITED_REQUESTS - 1, 0.006, UNLIMITED_TOKENS, UNLIMITED_TOKENS, 0.0
)


class SlidingWindow:
    """One model's window; accepted requests are remembered with their token cost for 60 s."""

    def __init__(self, *, rpm: int | None, tpm: int | None) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._events: deque[tuple[float, int]] = deque()
        self._tokens = 0

    def _prune(self, now: float) -> None:
        while self._events and self._events[0][0] <= now - WINDOW:
            self._tokens -= self._events.popleft()[1]

    def _wait_for_tokens(self, need: int, now: float) -> float:
        """Seconds until ``need`` tokens of room exist (inf when ``need`` exceeds the limit)."""
        assert self.tpm is not None
        if need > self.tpm:
            return math.inf
        used = self._tokens
        for at, cost in self._events:
            used -= cost
            if used + need <= self.tpm:
                return max(at + WINDOW - now, 0.0)
        return 0.0

    def acquire(self, tokens: int, now: float) -> RateSnapshot:
        """Admit the request (recording it) or refuse it with an accurate ``retry_after``."""
        self._prune(now)
        count = len(self._events)
        rpm = self.rpm or UNLIMITED_REQUESTS
        tpm = self.tpm or UNLIMITED_TOKENS
        oldest = self._events[0][0] + WINDOW - now if self._events else 0.0
        if self.rpm is not None and count >= self.rpm:
            return RateSnapshot(rpm, 0, oldest, tpm, tpm - self._tokens, oldest, oldest, "requests")
        if self.tpm is not None and self._tokens + tokens > self.tpm:
            wait = self._wait_for_tokens(tokens, now)
            wait = WINDOW if math.isinf(wait) else wait
            return RateSnapshot(rpm, rpm - count, oldest, tpm, tpm - self._tokens, wait, wait, "tokens")
        self._events.append((now, tokens))
        self._tokens += tokens
        reset = self._events[0][0] + WINDOW - now
        return RateSnapshot(rpm, rpm - count - 1, reset, tpm, tpm - self._tokens, reset if tokens else 0.0)


def duration(seconds: float) -> str:
    """OpenAI's Go-style duration strings: ``12ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(round(seconds * 1000), 0)}ms"
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".")
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{int(hours)}h{int(minutes)}m{text}s"
    return f"{int(minutes)}m{text}s"
