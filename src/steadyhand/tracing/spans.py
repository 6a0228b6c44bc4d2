"""Spans opened by application code: ``with tracer.span(...)`` / ``async with`` / ``@tracer.trace``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .context import SpanContext, current_span, reset_span, use_span
from .records import SpanKind, SpanRecord

if TYPE_CHECKING:
    from .tracer import Tracer

__all__ = ["Span"]


class Span:
    """An open span: current while its block runs (so nested spans and client calls become its
    children, across ``await`` and into tasks created inside it), recorded when the block exits."""

    __slots__ = ("_token", "_tracer", "record")

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        *,
        kind: SpanKind,
        tags: Mapping[str, str] | None,
        attributes: Mapping[str, Any] | None,
    ) -> None:
        self._tracer = tracer
        self._token: object | None = None
        self.record = SpanRecord(
            name=name, kind=kind, tags=dict(tags or {}), attributes=dict(attributes or {})
        )

    @property
    def span_id(self) -> str:
        return self.record.span_id

    @property
    def trace_id(self) -> str:
        return self.record.trace_id

    def set_attribute(self, key: str, value: Any) -> None:
        self.record.attributes[key] = value

    def set_tag(self, key: str, value: str) -> None:
        self.record.tags[key] = str(value)

    def set_error(self, exc: BaseException) -> None:
        """Mark the span failed (done for you when an exception leaves the block)."""
        self.record.status = "error"
        self.record.error_type = type(exc).__name__
        self.record.error_message = str(exc)[:4000]

    def __enter__(self) -> Span:
        if self._token is not None:
            raise RuntimeError(f"span {self.record.name!r} is already open; a span is entered once")
        rec = self.record
        parent = current_span()
        if parent is None:
            rec.project = self._tracer.project
        else:
            rec.trace_id, rec.parent_id, rec.project = parent.trace_id, parent.span_id, parent.project
        rec.start_time = time.time()
        self._token = use_span(SpanContext(rec.trace_id, rec.span_id, rec.project))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.record.end_time = time.time()
        if exc is not None:
            self.set_error(exc)
        token, self._token = self._token, None
        with contextlib.suppress(ValueError):  # exited in another context (a generator closed elsewhere)
            reset_span(token)
        self._tracer.record(self.record)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)
