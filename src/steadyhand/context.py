"""The per-call context: what every provider in a stack is told about the call it is serving.

It is passed explicitly (``provider.complete(request, ctx=ctx)``), so a policy that wraps a provider
sees the same deadline, span and attempt number as the adapter at the bottom, sync or async, in any
thread. It is immutable; a wrapper that changes something (the attempt number, a tighter deadline)
passes a modified copy down with :meth:`CallContext.replace`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .tracing.context import SpanContext
from .tracing.records import SpanKind, SpanRecord, SpanSink

if TYPE_CHECKING:
    from ._config import Target

__all__ = ["CallContext", "CallReport", "OpenSpan", "TrafficClass"]

TrafficClass = Literal["production", "test", "shadow", "eval"]


class OpenSpan:
    """The call's ``llm`` span while the call runs: ids allocated, not yet recorded.

    Wrappers record their own spans under it (:meth:`child`) and note what they decided on it
    (:meth:`note`); the client records the span itself when the call ends. The call's tags go on
    every child too, so an attempt is found by the same tags as its call (the gateway's key, project
    and configuration hash among them).
    """

    __slots__ = ("answered_model", "answered_provider", "attributes", "context", "sink", "tags")

    def __init__(
        self, context: SpanContext, sink: SpanSink | None, tags: Mapping[str, str] | None = None
    ) -> None:
        self.context = context
        self.sink = sink
        self.tags = tags
        self.attributes: dict[str, Any] = {}
        self.answered_provider: str | None = None
        self.answered_model: str | None = None

    @property
    def trace_id(self) -> str:
        return self.context.trace_id

    @property
    def span_id(self) -> str:
        return self.context.span_id

    def note(self, key: str, value: Any) -> None:
        """Set an attribute on the llm span (a dropped parameter, a policy's decision)."""
        self.attributes[key] = value

    def answered_by(self, provider: str, model: str) -> None:
        """Say which provider and pinned model gave the answer (a fallback may differ from the target)."""
        self.answered_provider, self.answered_model = provider, model

    def child(self, name: str, *, kind: SpanKind = "attempt", **fields: Any) -> SpanRecord:
        """A span record parented to this span, for the caller to fill in and :meth:`emit`."""
        return SpanRecord(
            name=name,
            kind=kind,
            trace_id=self.context.trace_id,
            parent_id=self.context.span_id,
            project=self.context.project,
            tags=dict(self.tags) if self.tags else {},
            **fields,
        )

    def emit(self, record: SpanRecord) -> None:
        """Send a finished child span to the tracer, if there is one; never raises."""
        if self.sink is None:
            return
        try:
            self.sink.record(record)
        except Exception:  # the tracer must never break a call
            import logging

            logging.getLogger("steadyhand.tracing").exception("the tracer failed to record a span")


class CallReport:
    """What the policies decided for one call, for the client to put on the answer.

    A complete answer carries its route itself; a stream's chunks cannot, so the policies also leave
    the route (and whether the answer is a degraded one) here, where the client's ``Stream`` finds
    them when it assembles the response. Only the client creates one, one per call.
    """

    __slots__ = ("degraded", "route")

    def __init__(self) -> None:
        self.route: Any = None
        self.degraded = False


@dataclass(frozen=True, kw_only=True)
class CallContext:
    """Deadline, span, attempt and labels of one call, handed down a provider stack.

    Not slotted: :meth:`replace` copies the fields in one dict update, where a frozen slotted copy
    needs one descriptor call per field (a policy copies the context once per attempt)."""

    deadline: float | None = None
    """Absolute ``time.monotonic()`` by which the whole call (every attempt and wait) must end."""
    span: OpenSpan | None = None
    """The call's open ``llm`` span, or ``None`` when nothing traces this call."""
    attempt: int = 1
    """1 for the first try; wrappers that retry or fall back count up."""
    traffic: TrafficClass = "production"
    """Which budget this call draws on: test and eval traffic must not starve production."""
    tags: Mapping[str, str] = field(default_factory=dict)
    target: Target | None = None
    """The resolved target the call was made for (alias, provider, model, API)."""
    cache: bool = True
    """False when the caller opted out of the cache for this call (``client.chat(..., cache=False)``)."""
    json_from_text: bool = False
    """True when the caller reads a JSON answer out of plain text itself (``client.structured`` cleans
    it up), so a fallback without a JSON mode can still answer; a plain call's JSON request skips it."""
    report: CallReport | None = None
    """Where the policies leave their decisions for the client; ``None`` outside a client call."""
    coalesce: bool = False
    """True when a stream may merge plain text events that arrived together into one chunk carrying
    their bytes (``Chunk.raw_events``): fewer, larger chunks, and bytes a gateway can relay as they came."""

    @classmethod
    def with_timeout(cls, timeout: float | None, **fields: Any) -> CallContext:
        """A context whose deadline is ``timeout`` seconds from now (none when ``timeout`` is None)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return cls(deadline=deadline, **fields)

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds left before the deadline (may be negative), or ``None`` with no deadline."""
        if self.deadline is None:
            return None
        return self.deadline - (time.monotonic() if now is None else now)

    def expired(self, now: float | None = None) -> bool:
        left = self.remaining(now)
        return left is not None and left <= 0

    def replace(self, **changes: Any) -> CallContext:
        """A copy with ``changes`` (``attempt=2``, a tighter ``deadline``...).

        By hand rather than ``dataclasses.replace`` (which inspects the fields and runs the frozen
        ``__init__``): a policy makes one copy per attempt, on every call."""
        if not _NAMES.issuperset(changes):
            unknown = sorted(set(changes) - _NAMES)[0]
            raise TypeError(f"CallContext has no field {unknown!r}")
        new = _new(CallContext)
        values = new.__dict__  # frozen refuses setattr, not an update of the new instance's dict
        values.update(self.__dict__)
        values.update(changes)
        return new

    def note(self, key: str, value: Any) -> None:
        """Note ``key`` on the call's llm span; a no-op when the call is not traced."""
        if self.span is not None:
            self.span.note(key, value)


_NAMES = frozenset(f.name for f in dataclasses.fields(CallContext))
_new = object.__new__

NO_CONTEXT = CallContext()
"""The context of a call made directly on a provider: no deadline, no span."""
