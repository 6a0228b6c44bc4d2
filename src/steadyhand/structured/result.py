"""What ``client.structured`` returns: the value, how it was obtained, and what each attempt cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..types import Usage
from ._parse import Repair
from .cleanup import Outcome
from .modes import Mode

__all__ = ["Attempt", "Partial", "Structured", "sum_usage"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One model output: its text, what cleanup made of it, and its usage and cost."""

    output: str
    outcome: Outcome
    repairs: tuple[Repair, ...] = ()
    errors: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    """``None`` when the model has no price in the price table."""
    mode: Mode = "text"
    """The mode this answer really got (after a fallback it may be weaker than planned)."""
    finish_reason: str = "stop"
    model: str = ""
    provider: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Structured(Generic[T]):
    """A validated structured answer.

    ``value`` is the validated instance; ``outcome`` how the accepted answer read (``clean``,
    ``repaired``...); ``repairs`` the cleanup steps of that answer; ``attempts`` every model output,
    re-asks included; ``usage`` and ``cost_usd`` their sums.
    """

    value: T
    outcome: Outcome
    repairs: tuple[Repair, ...]
    attempts: tuple[Attempt, ...]
    usage: Usage
    cost_usd: float | None
    mode: Mode
    """The mode planned for the call's target."""
    notes: tuple[str, ...] = ()
    """Anything worth knowing that is not an error: a downgrade after a fallback, a vote's split."""
    agreement: float | None = None
    """With ``n`` > 1: the share of the valid samples that agree with the chosen value."""
    samples: tuple[Any, ...] = ()
    """With ``n`` > 1: every valid sample's value, in order."""

    @property
    def reasks(self) -> int:
        """How many times the model was asked again (attempts after the first)."""
        return max(0, len(self.attempts) - 1) if self.agreement is None else 0


@dataclass(frozen=True, slots=True)
class Partial:
    """A streamed step: ``value`` holds only closed sub-trees (and complete members of open ones);
    ``final`` is set on the last event, with the validated answer."""

    value: Any
    final: Structured[Any] | None = None


def sum_usage(usages: list[Usage]) -> Usage:
    """Token counts added up; a count nobody reported stays ``None`` (one attempt: its usage as is)."""

    def total(name: str) -> int | None:
        values = [getattr(u, name) for u in usages if getattr(u, name) is not None]
        return sum(values) if values else None

    if len(usages) == 1:
        return usages[0]
    return Usage(
        input_tokens=total("input_tokens"),
        output_tokens=total("output_tokens"),
        cached_input_tokens=total("cached_input_tokens"),
        cache_write_tokens=total("cache_write_tokens"),
        reasoning_tokens=total("reasoning_tokens"),
        estimated=any(u.estimated for u in usages),
    )


def sum_cost(costs: list[float | None]) -> float | None:
    """The sum of the priced attempts; ``None`` when none was priced."""
    priced = [c for c in costs if c is not None]
    return sum(priced) if priced else None
