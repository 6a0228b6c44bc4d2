"""``/metrics``: the gateway's Prometheus series (``prometheus-client``, one registry per gateway).

Labels are bounded on purpose: the model label is a configured alias (or a configured
``provider:model``) and anything else collapses into ``other``; no user, key or project id is ever
a label, so junk traffic cannot grow the series without bound.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics", "RequestSeries"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_SLOW = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class RequestSeries(NamedTuple):
    """The labelled children every request of one (route, model, status) feeds (the others, such as
    TTFT and tokens, appear only once a request has them)."""

    requests: Any
    latency: Any
    overhead: Any


class Metrics:
    """Every series the gateway exports; ``known`` are the model names that get their own label."""

    def __init__(self, known: Collection[str] = ()) -> None:
        self.known = frozenset(known)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._series: dict[tuple[str, str, int], RequestSeries] = {}
        self._breakers: dict[str, bool] = {}
        """What ``breaker_open`` was last set to, per target."""
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "steadyhand_gateway_requests", "Requests answered, by route, model and status.",
            ["route", "model", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "steadyhand_gateway_request_seconds", "Request read to last byte written.",
            ["route", "model"], buckets=_SLOW, registry=r,
        )  # fmt: skip
        self.ttft = Histogram(
            "steadyhand_gateway_ttft_seconds", "Request read to the first streamed byte.",
            ["route", "model"], buckets=_SLOW, registry=r,
        )  # fmt: skip
        self.overhead = Histogram(
            "steadyhand_gateway_overhead_seconds", "steadyhand's own time (upstream waits excluded).",
            ["route"], buckets=_FAST, registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "steadyhand_gateway_tokens", "Tokens, by model and direction (input, output, cached_input).",
            ["model", "direction"], registry=r,
        )  # fmt: skip
        self.cost = Counter("steadyhand_gateway_cost_usd", "Cost in USD, by model.", ["model"], registry=r)
        self.errors = Counter(
            "steadyhand_gateway_errors",
            "Failed requests, by model and error class.",
            ["model", "error"],
            registry=r,
        )
        self.retries = Counter(
            "steadyhand_gateway_retries", "Attempts after the first on a target.", ["model"], registry=r
        )
        self.fallbacks = Counter(
            "steadyhand_gateway_fallbacks", "Answers given by a fallback target.", ["model"], registry=r
        )
        self.cache_hits = Counter(
            "steadyhand_gateway_cache_hits", "Answers served from the cache.", ["model"], registry=r
        )
        self.rejections = Counter(
            "steadyhand_gateway_rejections", "Refused before any upstream: auth, allow-list, rate, budget.",
            ["reason"], registry=r,
        )  # fmt: skip
        self.breaker_open = Gauge(
            "steadyhand_gateway_breaker_open",
            "1 while a target's circuit breaker is open.",
            ["target"],
            registry=r,
        )
        self.in_flight = Gauge("steadyhand_gateway_in_flight", "Requests being answered.", registry=r)
        self.reloads = Counter(
            "steadyhand_gateway_reloads", "Config reloads, by outcome.", ["outcome"], registry=r
        )

    def of(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached: the label sets are bounded, the lookup is not free."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request_series(self, route: str, model: str, status: int) -> RequestSeries:
        """The children every answered request touches, looked up once per (route, model, status)."""
        key = (route, model, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = RequestSeries(
                self.of(self.requests, route, model, str(status)),
                self.of(self.latency, route, model),
                self.of(self.overhead, route),
            )
        return series

    def breaker(self, target: str, is_open: bool) -> None:
        """Set ``breaker_open`` for ``target``; only when it changed (every answer reports its breaker)."""
        if self._breakers.get(target) is not is_open:
            self.of(self.breaker_open, target).set(1 if is_open else 0)
            self._breakers[target] = is_open

    def model(self, name: str | None) -> str:
        """The label for a model name: itself when configured, else ``other``."""
        return name if name is not None and name in self.known else "other"

    def render(self) -> bytes:
        return generate_latest(self.registry)
