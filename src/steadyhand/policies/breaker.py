"""Circuit breaker: stop sending requests to a target that keeps failing, and let it recover.

``closed`` (requests flow) → ``open`` after ``failures`` failures within ``window`` seconds →
``half_open`` once ``cooldown`` seconds have passed (at least the longest Retry-After seen), when
``probes`` requests may go through → ``closed`` again when a probe succeeds, ``open`` again when one
fails. An open breaker makes the policies skip the target without a request (a fallback goes
instead). Only failures that say the target is unhealthy count (connection errors, timeouts, 408,
429, 5xx, overloaded); a request the provider rejected does not.

The state of each target lives in the injected :class:`~steadyhand.policies.SharedState`, so every
client given the same state sees the same breaker. Times are the policy clock's readings (monotonic
seconds), passed in: this module never reads a clock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigurationError, ProviderError, ProviderTimeout
from .retry import retry_after, should_retry

__all__ = ["Breaker", "BreakerState", "State", "counts_against"]

State = Literal["closed", "open", "half_open"]


def counts_against(error: BaseException) -> bool:
    """Whether ``error`` says the target is unhealthy (and so counts towards opening its breaker)."""
    if getattr(error, "local", False):
        return False  # steadyhand's own rate limit refused it: nothing was sent
    return isinstance(error, ProviderError) and (should_retry(error) or isinstance(error, ProviderTimeout))


@dataclass(frozen=True, slots=True)
class Breaker:
    """The settings: open after ``failures`` within ``window`` s, probe after ``cooldown`` s."""

    failures: int = 5
    window: float = 30.0
    cooldown: float = 15.0
    probes: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.failures, bool) or not isinstance(self.failures, int) or self.failures < 1:
            raise ConfigurationError(f"breaker failures must be a whole number >= 1, not {self.failures!r}")
        if isinstance(self.probes, bool) or not isinstance(self.probes, int) or self.probes < 1:
            raise ConfigurationError(f"breaker probes must be a whole number >= 1, not {self.probes!r}")
        if not self.window > 0 or not self.cooldown >= 0:
            raise ConfigurationError(
                "breaker needs window > 0 and cooldown >= 0 (seconds), "
                f"not window={self.window!r} cooldown={self.cooldown!r}"
            )


class BreakerState:
    """One target's breaker; thread-safe, shared through :class:`SharedState`."""

    def __init__(self, settings: Breaker) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures: deque[float] = deque()
        self._opened_until = 0.0
        self._probes_out = 0

    def state(self, now: float) -> State:
        """The state at ``now`` (an open breaker past its cooldown reads ``half_open``)."""
        with self._lock:
            return self._current(now)

    def _current(self, now: float) -> State:
        if self._state == "open" and now >= self._opened_until:
            self._state, self._probes_out = "half_open", 0
        return self._state

    def retry_in(self, now: float) -> float:
        """Seconds until an open breaker lets a probe through (0 when it is not open)."""
        with self._lock:
            return max(0.0, self._opened_until - now) if self._current(now) == "open" else 0.0

    def admit(self, now: float) -> State | None:
        """Ask to send a request: the state it goes under, or ``None`` when it must be skipped."""
        if self._state == "closed":
            return "closed"  # only an answer or a failure changes a closed breaker: no lock on every call
        with self._lock:
            state = self._current(now)
            if state == "open":
                return None
            if state == "half_open":
                if self._probes_out >= self.settings.probes:
                    return None
                self._probes_out += 1
            return state

    def release(self) -> None:
        """Give back a half-open probe whose request ended without a verdict (the caller cancelled)."""
        with self._lock:
            self._probes_out = max(0, self._probes_out - 1)

    def record(self, error: BaseException | None, now: float) -> None:
        """Report how an admitted request ended (``error`` None for an answer)."""
        if error is None and self._state == "closed" and not self._failures:
            return  # the usual answer changes nothing: no lock taken on every healthy call
        with self._lock:
            state = self._current(now)
            if error is None:
                if state == "half_open":
                    self._state = "closed"
                self._failures.clear()
                return
            if not counts_against(error):
                if state == "half_open":
                    self._probes_out = max(0, self._probes_out - 1)  # no verdict: let another probe try
                return
            if state == "half_open":
                self._open(now, error)
                return
            self._failures.append(now)
            while self._failures and self._failures[0] <= now - self.settings.window:
                self._failures.popleft()
            if len(self._failures) >= self.settings.failures:
                self._open(now, error)

    def _open(self, now: float, error: BaseException) -> None:
        cooldown = max(self.settings.cooldown, retry_after(error) or 0.0)
        self._state, self._opened_until = "open", now + cooldown
        self._failures.clear()
        self._probes_out = 0
