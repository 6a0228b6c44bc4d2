"""Retry: which errors are worth sending again to the same target, and how long to wait first.

Only failures of the moment are retried: a connection error, a connect or stall timeout, HTTP 408,
429 that is not a quota, 500/502/503/504 and "overloaded" (529). A request the provider rejected
(400/401/403/404/422, context window, content filter, prefill) or an exhausted quota fails the same
way every time, so it is never retried on that target (a fallback may still take it). A timeout that
used up the attempt's whole time (``first_token``, ``total``) is not retried either: a silent target
is failed over, not waited on three times.

The wait is exponential backoff with full jitter (AWS's "full jitter": uniform in
``[0, min(cap, base * 2**n)]``), raised to the provider's Retry-After when it sent one; the random
numbers come from an injected :class:`random.Random` so tests are deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..errors import (
    ConfigurationError,
    Overloaded,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    StreamInterrupted,
)

__all__ = ["RETRY_STATUSES", "Retry", "retry_after", "should_retry"]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
"""HTTP statuses sent again to the same target (429 only when it is not a quota)."""

_FAIL_OVER_PHASES = frozenset({"first_token", "total"})


def should_retry(error: BaseException) -> bool:
    """Whether sending the same request to the same target again may succeed."""
    if isinstance(error, QuotaExhausted):
        return False
    if isinstance(error, ProviderHTTPError):
        return error.status_code in RETRY_STATUSES or isinstance(error, RateLimited | Overloaded)
    if isinstance(error, ProviderTimeout):
        return error.phase not in _FAIL_OVER_PHASES
    return isinstance(error, ProviderConnectionError | StreamInterrupted)


def retry_after(error: BaseException) -> float | None:
    """The seconds the provider asked to wait (already parsed from Retry-After and its cousins)."""
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


@dataclass(frozen=True, slots=True)
class Retry:
    """``attempts`` per target (1 = no retry), backoff ``base`` and ``cap`` in seconds."""

    attempts: int = 3
    base: float = 0.25
    cap: float = 8.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise ConfigurationError(f"retry attempts must be a whole number >= 1, not {self.attempts!r}")
        if not self.base >= 0 or not self.cap >= self.base:
            raise ConfigurationError(
                f"retry needs 0 <= base <= cap (seconds), not base={self.base!r} cap={self.cap!r}"
            )

    def allows(self, error: ProviderError, made: int) -> bool:
        """Whether, time aside, another attempt on this target is allowed after ``made`` attempts."""
        asked = retry_after(error)
        return made < self.attempts and should_retry(error) and (asked is None or asked <= self.cap)

    def backoff(self, retry: int, rng: random.Random) -> float:
        """The jittered wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.cap, self.base * 2 ** (retry - 1))
        return rng.uniform(0.0, ceiling)

    def wait(
        self, error: ProviderError, made: int, rng: random.Random, *, left: float | None
    ) -> float | None:
        """Seconds to wait before the next attempt after ``error``, or ``None`` when this target is done.

        ``made`` is the number of attempts already made on this target.
        ``left`` is how long the call can still wait and leave time for an attempt (``None``: no
        deadline). A Retry-After that does not fit in ``left``, or that exceeds ``cap``, ends the
        retries on this target (a fallback goes at once); a backoff that does not fit is shortened.
        """
        if not self.allows(error, made):
            return None
        asked = retry_after(error)
        if asked is not None and left is not None and asked > left:
            return None
        wait = max(asked or 0.0, self.backoff(made, rng))
        if left is not None:
            if left < 0:
                return None
            wait = min(wait, left)
        return wait
