"""Time limits for one provider call: a leaf module, so configuration and providers both use it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Timeouts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Time limits for one call, in seconds; ``None`` disables a limit.

    ``stall`` is the longest gap between two pieces of a streamed (or slow non-streamed) answer;
    ``first_token`` bounds the wait for the first byte of the answer; ``total`` the whole call.
    Every limit must be positive: zero or a negative number is refused where it is configured.
    """

    connect: float | None = 5.0
    first_token: float | None = None
    stall: float | None = 60.0
    total: float | None = 600.0

    def __post_init__(self) -> None:
        for name in ("connect", "first_token", "stall", "total"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
            ):
                raise ValueError(
                    f"timeouts.{name} must be a positive number of seconds (or omitted), not {value!r}"
                )

    def capped(self, remaining: float | None) -> Timeouts:
        """These limits with no phase longer than ``remaining`` seconds (the call's deadline)."""
        if remaining is None:
            return self
        remaining = max(remaining, 0.001)

        def cap(value: float | None) -> float:
            return remaining if value is None else min(value, remaining)

        if self.total is not None and self.total <= remaining:
            return self
        # Every call with a deadline makes one: built without re-checking limits that are already valid
        # (each is one of ours, or ``remaining``, which is positive).
        first = None if self.first_token is None else min(self.first_token, remaining)
        capped = object.__new__(Timeouts)
        limits = (("connect", cap(self.connect)), ("first_token", first), ("stall", cap(self.stall)))
        for name, value in limits:
            object.__setattr__(capped, name, value)
        object.__setattr__(capped, "total", remaining)
        return capped
