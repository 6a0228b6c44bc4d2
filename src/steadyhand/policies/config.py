"""The policy every client applies first: the alias's own policy table from steadyhand.toml.

``[models.support]`` with ``fallbacks``, ``deadline``, ``attempt_timeout``, ``retry``, ``breaker``,
``rate_limit`` or ``targets`` gets a :class:`~steadyhand.policies.Resilient` built from those keys;
an alias without them is left alone (no wrapper, no cost). ``cache`` and ``degraded`` are parsed
and checked but not enforced yet: a warning says so once per alias.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..providers.base import Provider
    from .stack import StackInfo

__all__ = ["policies_from_config"]

log = logging.getLogger("steadyhand.policies")
_NOT_YET = ("cache", "degraded")


def policies_from_config(provider: Provider, info: StackInfo) -> Provider:
    """Wrap ``provider`` in the policies its alias's table configures (a :data:`Policy`)."""
    alias = info.config.all_models().get(info.target.alias)
    if alias is None or not alias.has_policies:
        return provider
    # Loaded only for an alias with a policy table: an app without one never imports them.
    from .breaker import Breaker
    from .fallback import Fallback
    from .limits import RateLimit
    from .resilience import Resilient
    from .retry import Retry

    pending = [key for key in _NOT_YET if getattr(alias, key) is not None]
    if pending:
        log.warning(
            "alias %r sets %s, which steadyhand does not enforce yet (issue 14); the alias's fallbacks, "
            "deadline, retry, breaker, rate_limit and targets apply",
            info.target.alias,
            ", ".join(pending),
        )
    info.config.check_policies()
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
