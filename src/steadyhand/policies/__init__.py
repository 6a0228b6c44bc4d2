"""Policies: providers that wrap providers so the LLM is never a single point of failure.

Each policy's decision logic is a sans-I/O generator (:mod:`steadyhand.policies.driver`) run by one
sync and one async driver; the client applies them through its provider stack (``policies=``).
:func:`resilient` is deadline + retry + circuit breaker + fallback for an alias; :func:`cache` is the
exact cache and :func:`degraded` the answer of last resort (docs/policies.md).
"""

from __future__ import annotations

from .breaker import Breaker, BreakerState
from .cache import Cache, cache
from .cache_key import KEY_VERSION, cache_key
from .cache_store import CacheStore, MemoryCacheStore, open_cache_store
from .deadline import DeadlineGuard
from .degraded import Degraded, degraded, degrades
from .driver import Attempt, Decisions, Outcome, PolicyProvider, adrive, adrive_stream, drive, drive_stream
from .fallback import KINDS, Fallback, error_kind
from .resilient import Resilient, resilient
from .retry import Retry, should_retry
from .route import Route, Step
from .stack import Policy, Resolver, SharedState, StackInfo

__all__ = [
    "KEY_VERSION",
    "KINDS",
    "Attempt",
    "Breaker",
    "BreakerState",
    "Cache",
    "CacheStore",
    "DeadlineGuard",
    "Decisions",
    "Degraded",
    "Fallback",
    "MemoryCacheStore",
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
    "cache",
    "cache_key",
    "degraded",
    "degrades",
    "drive",
    "drive_stream",
    "error_kind",
    "open_cache_store",
    "resilient",
    "should_retry",
]
