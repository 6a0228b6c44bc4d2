"""Time limits for one provider call: a leaf module, so configuration and providers both use it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Timeouts"]


@dataclass(frozen=True, kw_only=True)
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
        if self.total is not None and self.total <= remaining:
            return self
        # Every call with a deadline makes one: built without re-checking limits that are already valid
        # (each is one of ours, or ``remaining``, which is positive), in one update of its dict (not
        # slotted: a frozen slotted copy needs a descriptor call per field).
        connect, first, stall = self.connect, self.first_token, self.stall
        capped = _new(Timeouts)
        capped.__dict__.update(
            connect=remaining if connect is None or connect > remaining else connect,
            first_token=first if first is None or first <= remaining else remaining,
            stall=remaining if stall is None or stall > remaining else stall,
            total=remaining,
        )
        return capped


_new = object.__new__
