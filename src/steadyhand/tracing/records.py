"""The span record types, re-exported from the leaf module ``steadyhand.records`` (shared with ``store``)."""

from __future__ import annotations

from ..records import SpanKind, SpanRecord, SpanSink, fill_usage, new_span_id, new_trace_id

__all__ = ["SpanKind", "SpanRecord", "SpanSink", "fill_usage", "new_span_id", "new_trace_id"]
