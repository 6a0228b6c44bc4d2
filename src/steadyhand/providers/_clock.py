"""One call's time budget, shared by the transports: which limit the current read is under, and the
typed timeout a transport raises when it runs out. No HTTP library here, so each transport loads only
its own."""

from __future__ import annotations

import time

from ..errors import ProviderTimeout
from ..timeouts import Timeouts

__all__ = ["Clock", "min_limit"]


def min_limit(*values: float | None) -> float | None:
    """The tightest of the limits that are set (``None`` when none is)."""
    present = [v for v in values if v is not None]
    return min(present) if present else None


class Clock:
    """One call's time budget and which limit the current read is under (to name the timeout's phase).

    ``phase`` starts as ``first_token`` (or ``stall`` when unset), becomes ``stall`` once the response
    head has arrived, and ``total`` whenever what is left of ``timeouts.total`` is the tighter limit.
    """

    __slots__ = ("deadline", "phase", "timeouts")

    def __init__(self, timeouts: Timeouts) -> None:
        self.timeouts = timeouts
        self.deadline = None if timeouts.total is None else time.monotonic() + timeouts.total
        self.phase = "first_token" if timeouts.first_token is not None else "stall"

    def read_limit(self, limit: float | None) -> float | None:
        """``limit`` capped at what is left of the deadline (the phase becomes ``total`` if that is less)."""
        if self.deadline is None:
            return limit
        left = max(self.deadline - time.monotonic(), 0.0)
        if limit is None or left < limit:
            self.phase = "total"
            return left
        return limit

    def head_limit(self) -> float | None:
        """The limit on waiting for the response head (the answer's first byte)."""
        t = self.timeouts
        return self.read_limit(t.first_token if t.first_token is not None else t.stall)

    def connect_limit(self, head: float | None) -> float | None:
        """The connect limit, tightened to ``head`` when the deadline is what bounds the call."""
        return min_limit(self.timeouts.connect, head if self.phase == "total" else None)

    def body_limit(self) -> float | None:
        """The head arrived: later reads are limited by ``stall`` (and what is left of ``total``)."""
        self.phase = "stall"
        return self.read_limit(self.timeouts.stall)

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ProviderTimeout(f"the call took longer than total={self.timeouts.total}s", phase="total")

    def connect_timeout(self) -> ProviderTimeout:
        return ProviderTimeout(f"could not connect within connect={self.timeouts.connect}s", phase="connect")

    def read_timeout(self) -> ProviderTimeout:
        """The timeout for the read that just ran out, named after the limit it was under."""
        t = self.timeouts
        if self.phase == "total":
            return ProviderTimeout(f"the call took longer than total={t.total}s", phase="total")
        limit = t.first_token if self.phase == "first_token" else t.stall
        what = "no answer" if self.phase == "first_token" else "no data"
        return ProviderTimeout(f"{what} for {self.phase}={limit}s", phase=self.phase)
