"""Policies: providers that wrap providers so the LLM is never a single point of failure.

Each policy's decision logic is a sans-I/O generator (:mod:`steadyhand.policies.driver`) run by one
sync and one async driver; the client applies them through its provider stack (``policies=``).
:func:`resilient` is deadline + retry + circuit breaker + fallback for an alias (docs/policies.md).
"""

from __future__ import annotations

from .breaker import Breaker, BreakerState
from .deadline import DeadlineGuard
from .driver import Attempt, Decisions, Outcome, PolicyProvider, adrive, adrive_stream, drive, drive_stream
from .fallback import KINDS, Fallback, error_kind
from .resilient import Resilient, resilient
from .retry import Retry, should_retry
from .route import Route, Step
from .stack import Policy, Resolver, SharedState, StackInfo

__all__ = [
    "KINDS",
    "Attempt",
    "Breaker",
    "BreakerState",
    "DeadlineGuard",
    "Decisions",
    "Fallback",
    "Outcome",
    "Policy",
    "PolicyProvider",
    "Resilient",
    "Resolver",
    "Retry",
    "Route",
    "SharedState",
    "StackInfo",
    "Step",
    "adrive",
    "adrive_stream",
    "drive",
    "drive_stream",
    "error_kind",
    "resilient",
    "should_retry",
]
