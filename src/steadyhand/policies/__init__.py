"""Policies: providers that wrap providers so the LLM is never a single point of failure.

Each policy's decision logic is a sans-I/O generator (:mod:`steadyhand.policies.driver`) run by one
sync and one async driver; the client applies them through its provider stack (``policies=``).
:func:`resilient` is deadline + retry + circuit breaker + fallback + rate limits + balanced targets
for an alias (docs/policies.md); :func:`rate_limit` is the rate limit alone; :func:`cache` is the
exact cache and :func:`degraded` the answer of last resort. Their state lives in a
:class:`SharedState` (in memory, or Redis with ``state_url``). A name's module loads when it is
first asked for, so an app whose aliases set no policy never pays for the policy modules at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_facade

if TYPE_CHECKING:
    from .breaker import Breaker as Breaker
    from .breaker import BreakerState as BreakerState
    from .cache_keys import KEY_VERSION as KEY_VERSION
    from .cache_keys import cache_key as cache_key
    from .cache_store import CacheStore as CacheStore
    from .cache_store import MemoryCacheStore as MemoryCacheStore
    from .cache_store import open_cache_store as open_cache_store
    from .caching import Cache as Cache
    from .caching import cache as cache
    from .deadline import DeadlineGuard as DeadlineGuard
    from .degradation import Degraded as Degraded
    from .degradation import degraded as degraded
    from .degradation import degrades as degrades
    from .driver import Attempt as Attempt
    from .driver import Decisions as Decisions
    from .driver import Outcome as Outcome
    from .driver import PolicyProvider as PolicyProvider
    from .driver import adrive as adrive
    from .driver import adrive_stream as adrive_stream
    from .driver import drive as drive
    from .driver import drive_stream as drive_stream
    from .fallback import KINDS as KINDS
    from .fallback import Fallback as Fallback
    from .fallback import error_kind as error_kind
    from .limits import Admission as Admission
    from .limits import RateLimit as RateLimit
    from .ratelimit import RateLimiter as RateLimiter
    from .ratelimit import rate_limit as rate_limit
    from .redis_state import RedisState as RedisState
    from .resilience import Balance as Balance
    from .resilience import Resilient as Resilient
    from .resilience import resilient as resilient
    from .retry import Retry as Retry
    from .retry import should_retry as should_retry
    from .route import Route as Route
    from .route import Step as Step
    from .stack import Policy as Policy
    from .stack import Resolver as Resolver
    from .stack import StackInfo as StackInfo
    from .state import SharedState as SharedState
    from .state import StateStats as StateStats

_HOME = {
    ".breaker": ("Breaker", "BreakerState"),
    ".caching": ("Cache", "cache"),
    ".cache_keys": ("KEY_VERSION", "cache_key"),
    ".cache_store": ("CacheStore", "MemoryCacheStore", "open_cache_store"),
    ".deadline": ("DeadlineGuard",),
    ".degradation": ("Degraded", "degraded", "degrades"),
    ".driver": ("Attempt", "Decisions", "Outcome", "PolicyProvider", "adrive", "adrive_stream", "drive",
                "drive_stream"),
    ".fallback": ("KINDS", "Fallback", "error_kind"),
    ".limits": ("Admission", "RateLimit"),
    ".ratelimit": ("RateLimiter", "rate_limit"),
    ".redis_state": ("RedisState",),  # imports redis: only when asked for
    ".resilience": ("Balance", "Resilient", "resilient"),
    ".retry": ("Retry", "should_retry"),
    ".route": ("Route", "Step"),
    ".stack": ("Policy", "Resolver", "StackInfo"),
    ".state": ("SharedState", "StateStats"),
}  # fmt: skip
__all__, __getattr__, __dir__ = lazy_facade(__name__, globals(), _HOME)
