"""The span that is open right now, so nested work (a client call inside a user's span) links to it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["SpanContext", "current_span", "use_span"]


@dataclass(frozen=True, slots=True)
class SpanContext:
    trace_id: str
    span_id: str
    project: str = "default"


_current: ContextVar[SpanContext | None] = ContextVar("steadyhand_current_span", default=None)


def current_span() -> SpanContext | None:
    return _current.get()


def use_span(ctx: SpanContext | None) -> object:
    """Make ``ctx`` current; returns a token for ``reset_span``."""
    return _current.set(ctx)


def reset_span(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
