"""Policies: providers that wrap providers so the LLM is never a single point of failure.

Each policy's decision logic is a sans-I/O generator (:mod:`steadyhand.policies.driver`) run by one
sync and one async driver; the client applies them through its provider stack (``policies=``).
:func:`resilient` is deadline + retry + circuit breaker + fallback + rate limits + balanced targets
for an alias (docs/policies.md); :func:`rate_limit` is the rate limit alone. Their state lives in a
:class:`SharedState` (in memory, or Redis with ``state_url``).
"""

from __future__ import annotations

from .breaker import Breaker, BreakerState
from .deadline import DeadlineGuard
from .driver import Attempt, Decisions, Outcome, PolicyProvider, adrive, adrive_stream, drive, drive_stream
from .fallback import KINDS, Fallback, error_kind
from .limits import Admission, RateLimit
from .ratelimit import RateLimiter, rate_limit
from .resilient import Balance, Resilient, resilient
from .retry import Retry, should_retry
from .route import Route, Step
from .stack import Policy, Resolver, StackInfo
from .state import SharedState, StateStats

__all__ = [
    "KINDS",
    "Admission",
    "Attempt",
    "Balance",
    "Breaker",
    "BreakerState",
    "DeadlineGuard",
    "Decisions",
    "Fallback",
    "Outcome",
    "Policy",
    "PolicyProvider",
    "RateLimit",
    "RateLimiter",
    "Resilient",
    "Resolver",
    "Retry",
    "Route",
    "SharedState",
    "StackInfo",
    "StateStats",
    "Step",
    "adrive",
    "adrive_stream",
    "drive",
    "drive_stream",
    "error_kind",
    "rate_limit",
    "resilient",
    "should_retry",
]
