"""Tracing: every call recorded durably to the store, redacted and priced, without slowing the caller.

Names load lazily: the client imports ``tracing.records``/``tracing.context`` and should not pay for
the tracer, the redactor or httpx-based export when it has no tracer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._writer import SpanWriter
    from .context import SpanContext, current_span, use_span
    from .cost import CostStore, CostUpdate, ModelPrice, PriceTable, fill_usage, load_prices, recompute_costs
    from .otlp import OtlpExporter, to_otlp
    from .records import SpanKind, SpanRecord, SpanSink, new_span_id, new_trace_id
    from .redaction import BUILTIN_DETECTORS, Policy, Redactor
    from .setup import tracer_from_config
    from .spans import Span
    from .tracer import DEFAULT_SPOOL_DIR, Tracer, TracerStats

_EXPORTS: dict[str, tuple[str, ...]] = {
    "._writer": ("SpanWriter",),
    ".context": ("SpanContext", "current_span", "use_span"),
    ".cost": (
        "CostStore", "CostUpdate", "ModelPrice", "PriceTable", "fill_usage", "load_prices", "recompute_costs",
    ),
    ".otlp": ("OtlpExporter", "to_otlp"),
    ".records": ("SpanKind", "SpanRecord", "SpanSink", "new_span_id", "new_trace_id"),
    ".redaction": ("BUILTIN_DETECTORS", "Policy", "Redactor"),
    ".setup": ("tracer_from_config",),
    ".spans": ("Span",),
    ".tracer": ("DEFAULT_SPOOL_DIR", "Tracer", "TracerStats"),
}  # fmt: skip
_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}

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
    "tracer_from_config",
    "use_span",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'steadyhand.tracing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
