"""The decision record: what the policies did for one call, in order, so nobody has to guess.

A :class:`Route` is returned on ``response.route``, noted on the call's ``llm`` span as
``steadyhand.route`` (its :meth:`Route.as_dict`) and carried by
:class:`~steadyhand.errors.DeadlineExceeded`. It is built from the clock readings the driver puts
on each outcome, so it is exact under a fake clock too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = ["EndedBy", "Route", "Step"]

EndedBy = Literal["answer", "error", "deadline", "options"]


@dataclass(slots=True)
class Step:
    """One attempt (or one target skipped without a request)."""

    target: str
    """``provider:model`` that was asked."""
    alias: str
    outcome: Literal["ok", "error", "skipped"]
    error: str | None = None
    """The error class name (``RateLimited``), or ``None`` when it answered."""
    status: int | None = None
    """The HTTP status of the error, when it had one."""
    wait: float = 0.0
    """Seconds waited (backoff, Retry-After) before this attempt was sent."""
    duration: float = 0.0
    """Seconds the attempt took, from send to answer or error."""
    breaker: str | None = None
    """The target's breaker state when the step was decided (``closed``, ``open``, ``half_open``)."""


@dataclass(slots=True)
class Route:
    """Every step of one call, how it ended, the deadline left and steadyhand's own overhead."""

    steps: list[Step] = field(default_factory=list)
    ended_by: EndedBy | None = None
    answered_by: str | None = None
    """``provider:model`` of the target that answered."""
    cache_hit: bool = False
    """True when the exact cache answered (no request was sent; the answer was not billed)."""
    cache: str | None = None
    """What the cache did: ``hit``, ``miss`` (then stored when complete), ``off`` (the caller passed
    ``cache=False``), ``sampled`` (temperature > 0 without ``sampled = true``); ``None``: no cache."""
    degraded: bool = False
    """True when every option failed and the degraded answer was returned instead of the error."""
    deadline_left: float | None = None
    """Seconds of the call's deadline left when the policies finished; ``None`` without a deadline."""
    overhead: float = 0.0
    """Seconds spent neither in an attempt nor in a wait: the policies' own cost."""

    @property
    def attempts(self) -> list[Step]:
        """The steps that sent a request (skipped targets left out)."""
        return [s for s in self.steps if s.outcome != "skipped"]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, for the span and for logs (by hand: ``dataclasses.asdict`` deep-copies
        every value and costs more than the policies' whole decision)."""
        out = {name: getattr(self, name) for name in _ROUTE_FIELDS}
        out["steps"] = [{name: getattr(step, name) for name in _STEP_FIELDS} for step in self.steps]
        return out

    def summary(self) -> str:
        """One line per step, for a log or an error message: ``sim:m ServerError 500 after 0.25s``."""
        lines = []
        for step in self.steps:
            what = "answered" if step.outcome == "ok" else (step.error or step.outcome)
            if step.outcome == "skipped":
                what = f"skipped ({step.error})"
            elif step.status is not None:
                what += f" {step.status}"
            waited = f" after waiting {step.wait:.2f}s" if step.wait else ""
            lines.append(f"{step.target} {what}{waited}")
        return "; ".join(lines) or "no attempt"


_STEP_FIELDS = tuple(f.name for f in fields(Step))
_ROUTE_FIELDS = tuple(f.name for f in fields(Route))
