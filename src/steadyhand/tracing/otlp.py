"""Export spans to any OpenTelemetry backend: OTLP/HTTP with JSON encoding, GenAI attribute names.

Pass an ``OtlpExporter`` in ``Tracer(exporters=[...])``: the Tracer's writer hands it each batch after
the store committed it (best-effort: a failed export is counted in ``stats().export_failed``, not retried).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ..errors import ConfigurationError
from .records import SpanRecord

__all__ = ["OtlpExporter", "to_otlp"]

_KIND_CLIENT, _KIND_INTERNAL = 3, 1
_STATUS_OK, _STATUS_ERROR = 1, 2
_LLM_KINDS = frozenset({"llm", "attempt", "shadow"})


def _value(v: Any) -> dict[str, Any]:
    """An OTLP AnyValue (ints as strings, as the JSON mapping of int64 requires)."""
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, str):
        return {"stringValue": v}
    if isinstance(v, list | tuple):
        return {"arrayValue": {"values": [_value(x) for x in v]}}
    if isinstance(v, Mapping):
        return {"kvlistValue": {"values": [{"key": str(k), "value": _value(x)} for k, x in v.items()]}}
    return {"stringValue": str(v)}


def _nanos(t: float) -> str:
    """Unix nanoseconds; whole seconds and the fraction apart, as ``t * 1e9`` loses the low digits."""
    whole = int(t)
    return str(whole * 1_000_000_000 + round((t - whole) * 1e9))


def _attributes(s: SpanRecord) -> dict[str, Any]:
    attrs: dict[str, Any] = {"steadyhand.kind": s.kind, "steadyhand.project": s.project}
    if s.kind in _LLM_KINDS:
        pairs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": s.provider,
            "gen_ai.request.model": s.model,
            "gen_ai.response.model": s.response_model,
            "gen_ai.usage.input_tokens": s.input_tokens,
            "gen_ai.usage.output_tokens": s.output_tokens,
            "gen_ai.usage.cached_input_tokens": s.cached_input_tokens,
            "gen_ai.usage.cache_write_tokens": s.cache_write_tokens,
            "gen_ai.usage.reasoning_tokens": s.reasoning_tokens,
            "gen_ai.response.finish_reasons": [s.finish_reason] if s.finish_reason else None,
            "steadyhand.model_alias": s.model_alias,
            "steadyhand.prompt_version": s.prompt_version,
            "steadyhand.cost_usd": s.cost_usd,
            "steadyhand.price_version": s.price_version,
        }
        req = s.request or {}
        for key in ("temperature", "top_p", "max_tokens", "seed"):
            if req.get(key) is not None:
                pairs[f"gen_ai.request.{key}"] = req[key]
        attrs.update((k, v) for k, v in pairs.items() if v is not None)
    if s.error_type:
        attrs["error.type"] = s.error_type
    attrs.update((f"steadyhand.tag.{k}", v) for k, v in s.tags.items())
    attrs.update(s.attributes)
    return attrs


def _span(s: SpanRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": s.trace_id,
        "spanId": s.span_id,
        "name": s.name,
        "kind": _KIND_CLIENT if s.kind in _LLM_KINDS else _KIND_INTERNAL,
        "startTimeUnixNano": _nanos(s.start_time),
        "endTimeUnixNano": _nanos(s.end_time if s.end_time is not None else s.start_time),
        "attributes": [{"key": k, "value": _value(v)} for k, v in _attributes(s).items()],
        "status": {"code": _STATUS_ERROR, "message": s.error_message or ""}
        if s.status == "error"
        else {"code": _STATUS_OK},
    }
    if s.parent_id:
        out["parentSpanId"] = s.parent_id
    if s.first_token_time is not None:
        out["events"] = [{"name": "gen_ai.first_token", "timeUnixNano": _nanos(s.first_token_time)}]
    return out


def to_otlp(spans: Sequence[SpanRecord], *, service_name: str = "steadyhand") -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` in OTLP's JSON mapping."""
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service_name}}]}
    scope = {"name": "steadyhand", "version": "0.1.0"}
    return {
        "resourceSpans": [
            {"resource": resource, "scopeSpans": [{"scope": scope, "spans": [_span(s) for s in spans]}]}
        ]
    }


class OtlpExporter:
    """POSTs batches to ``{endpoint}/v1/traces`` (OTLP/HTTP, JSON). Implements ``SpanWriter``.

    Args:
        endpoint: the collector's base URL, e.g. ``http://localhost:4318``.
        headers: extra headers (an API key for a hosted backend).
        timeout: seconds per export request.
        service_name: the ``service.name`` resource attribute.
        client: an ``httpx.Client`` to use instead of the exporter's own (tests, proxies).
    """

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        service_name: str = "steadyhand",
        client: httpx.Client | None = None,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"OTLP endpoint {endpoint!r} must be an http(s) URL, e.g. http://host:4318"
            )
        self.url = endpoint.rstrip("/") + "/v1/traces"
        self.service_name = service_name
        self._owns = client is None
        self._client = client or httpx.Client(timeout=timeout, headers=dict(headers or {}))
        self._headers = dict(headers or {}) if client is not None else {}

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        """Export one batch; raises ``httpx.HTTPError`` if the backend did not accept it."""
        if not spans:
            return 0
        body = to_otlp(spans, service_name=self.service_name)
        response = self._client.post(self.url, json=body, headers=self._headers)
        response.raise_for_status()
        return len(spans)

    def close(self) -> None:
        if self._owns:
            self._client.close()
