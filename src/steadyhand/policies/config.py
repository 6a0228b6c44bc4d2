"""The policy every client applies first: the alias's own policy table from steadyhand.toml.

``[models.support]`` with ``fallbacks``, ``deadline``, ``attempt_timeout``, ``retry``, ``breaker``,
``rate_limit`` or ``targets`` gets a :class:`~steadyhand.policies.Resilient` built from those keys;
``cache`` wraps that in a :class:`~steadyhand.policies.Cache` (so a fallback's answer is cached under
the request, and a hit takes no rate-limit budget) and ``degraded`` wraps everything in a
:class:`~steadyhand.policies.Degraded` (so it stands in only when every option is exhausted). An
alias without policy keys is left alone (no wrapper, no cost).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..providers.base import Provider
    from .stack import StackInfo

__all__ = ["policies_from_config"]

_RESILIENT = ("deadline", "attempt_timeout", "retry", "breaker", "rate_limit")


def policies_from_config(provider: Provider, info: StackInfo) -> Provider:
    """Wrap ``provider`` in the policies its alias's table configures (a :data:`Policy`)."""
    alias = info.config.all_models().get(info.target.alias)
    if alias is None or not alias.has_policies:
        return provider
    info.config.check_policies()
    # Loaded only for an alias with a policy table: an app without one never imports them.
    from .._config import DegradedTable
    from .caching import Cache, store_for
    from .degradation import Degraded

    if alias.fallbacks or alias.targets or any(getattr(alias, key) is not None for key in _RESILIENT):
        provider = _resilient(provider, info)
    cache = None
    if alias.cache is not None:
        table = alias.degraded
        keep = table.max_age if isinstance(table, DegradedTable) and table.cached else 0.0
        cache = Cache(
            provider, info, store=store_for(info), ttl=alias.cache.ttl, sampled=alias.cache.sampled,
            keep_stale=keep,
        )  # fmt: skip
        provider = cache
    if alias.degraded is not None:
        table = alias.degraded
        if isinstance(table, str):
            provider = Degraded(provider, info, answer=table)
        else:
            source = cache if table.cached else None
            provider = Degraded(provider, info, answer=table.text, from_cache=source, max_age=table.max_age)
    return provider


def _resilient(provider: Provider, info: StackInfo) -> Provider:
    from .breaker import Breaker
    from .fallback import Fallback
    from .limits import RateLimit
    from .resilience import Resilient
    from .retry import Retry

    alias = info.config.all_models()[info.target.alias]
    fallbacks = [
        Fallback(entry) if isinstance(entry, str) else Fallback(entry.target, on=entry.on)
        for entry in alias.fallbacks
    ]
    retry = None if alias.retry is None else Retry(alias.retry.attempts, alias.retry.base, alias.retry.cap)
    table = alias.breaker
    breaker = None if table is None else Breaker(table.failures, table.window, table.cooldown, table.probes)
    return Resilient(
        provider,
        info,
        fallbacks=fallbacks,
        retry=retry,
        breaker=breaker,
        deadline=alias.deadline,
        attempt_timeout=alias.attempt_timeout,
        rate_limit=None if alias.rate_limit is None else RateLimit.from_table(alias.rate_limit),
        targets=alias.target_names() if alias.targets else (),
        balance=alias.balance,
    )
