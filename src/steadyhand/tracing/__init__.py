"""Tracing: every call recorded durably to the store, redacted and priced, without slowing the caller."""

from __future__ import annotations

from ._writer import SpanWriter
from .context import SpanContext, current_span, use_span
from .cost import CostStore, CostUpdate, ModelPrice, PriceTable, fill_usage, load_prices, recompute_costs
from .otlp import OtlpExporter, to_otlp
from .records import SpanKind, SpanRecord, SpanSink, new_span_id, new_trace_id
from .redaction import BUILTIN_DETECTORS, Policy, Redactor
from .spans import Span
from .tracer import DEFAULT_SPOOL_DIR, Tracer, TracerStats

__all__ = [
    "BUILTIN_DETECTORS",
    "DEFAULT_SPOOL_DIR",
    "CostStore",
    "CostUpdate",
    "ModelPrice",
    "OtlpExporter",
    "Policy",
    "PriceTable",
    "Redactor",
    "Span",
    "SpanContext",
    "SpanKind",
    "SpanRecord",
    "SpanSink",
    "SpanWriter",
    "Tracer",
    "TracerStats",
    "current_span",
    "fill_usage",
    "load_prices",
    "new_span_id",
    "new_trace_id",
    "recompute_costs",
    "to_otlp",
    "use_span",
]
