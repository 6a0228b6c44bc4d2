"""``/metrics``: the gateway's Prometheus series (``prometheus-client``, one registry per gateway).

Labels are bounded on purpose: the model label is a configured alias (or a configured
``provider:model``) and anything else collapses into ``other``; no user, key or project id is ever
a label, so junk traffic cannot grow the series without bound.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics", "RequestSeries"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_FAST = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_SLOW = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_INF = float("inf")


class _Histogram:
    """One histogram child's observations as plain numbers, folded into the child at scrape time
    (``prometheus_client`` takes a lock and several calls per observation: ~10k instructions)."""

    __slots__ = ("bounds", "child", "counts", "sum")

    def __init__(self, child: Any, bounds: tuple[float, ...]) -> None:
        self.child = child
        self.bounds = (*bounds, _INF)
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0
        """The running total, added in the same order as ``observe`` would: the same float."""

    def observe(self, value: float) -> None:
        self.sum += value
        if value == value:  # NaN falls in no bucket, as with Histogram.observe
            self.counts[bisect_left(self.bounds, value)] += 1

    def fold(self) -> None:
        child, counts = self.child, self.counts
        child._sum.set(self.sum)
        for i, n in enumerate(counts):
            if n:
                child._buckets[i].inc(n)
                counts[i] = 0


class RequestSeries:
    """What every request of one (route, model, status) feeds, as plain numbers (see ``_Histogram``;
    the histograms are shared by the statuses of a route and model); the others, such as TTFT and
    tokens, appear only once a request has them."""

    __slots__ = ("count", "latency", "overhead", "requests")

    def __init__(self, requests: Any, latency: _Histogram, overhead: _Histogram) -> None:
        self.requests = requests
        self.count = 0
        self.latency = latency
        self.overhead = overhead

    def fold(self) -> None:
        if self.count:
            self.requests.inc(self.count)
            self.count = 0


class _Usage:
    """One model's token counts and cost, kept as plain numbers and folded in at scrape time; the
    cost child appears with the first non-zero cost, as it did when it was incremented directly."""

    __slots__ = ("cached", "cost", "cost_child", "input", "metrics", "model", "output", "tokens")

    def __init__(self, metrics: Metrics, model: str) -> None:
        self.metrics, self.model = metrics, model
        self.tokens = tuple(metrics.of(metrics.tokens, model, d) for d in ("input", "output", "cached_input"))
        self.input = self.output = self.cached = 0
        self.cost = 0.0
        self.cost_child: Any = None

    def fold(self) -> None:
        for child, n in zip(self.tokens, (self.input, self.output, self.cached), strict=True):
            if n:
                child.inc(n)
        self.input = self.output = self.cached = 0
        if self.cost_child is not None:
            self.cost_child._value.set(self.cost)


class Metrics:
    """Every series the gateway exports; ``known`` are the model names that get their own label."""

    def __init__(self, known: Collection[str] = ()) -> None:
        self.known = frozenset(known)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._series: dict[tuple[str, str, int], RequestSeries] = {}
        self._usage: dict[str, _Usage] = {}
        self._histograms: dict[int, _Histogram] = {}
        """By ``id`` of the child they feed (each child has one, whichever series use it)."""
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
                self._histogram(self.of(self.latency, route, model), _SLOW),
                self._histogram(self.of(self.overhead, route), _FAST),
            )
        return series

    def _histogram(self, child: Any, bounds: tuple[float, ...]) -> _Histogram:
        found = self._histograms.get(id(child))
        if found is None:
            found = self._histograms[id(child)] = _Histogram(child, bounds)
        return found

    def usage(
        self, model: str, input_tokens: int, output_tokens: int, cached: int, cost: float | None
    ) -> None:
        """Count one answer's tokens and cost (``steadyhand_gateway_tokens``, ``..._cost_usd``)."""
        u = self._usage.get(model)
        if u is None:
            u = self._usage[model] = _Usage(self, model)
        u.input += input_tokens
        u.output += output_tokens
        u.cached += cached
        if cost:
            if u.cost_child is None:
                u.cost_child = self.of(self.cost, model)
            u.cost += cost

    def fold(self) -> None:
        """Move what the plain numbers counted into the registry (done by ``render``)."""
        for series in self._series.values():
            series.fold()
        for histogram in self._histograms.values():
            histogram.fold()
        for u in self._usage.values():
            u.fold()

    def breaker(self, target: str, is_open: bool) -> None:
        """Set ``breaker_open`` for ``target``; only when it changed (every answer reports its breaker)."""
        if self._breakers.get(target) is not is_open:
            self.of(self.breaker_open, target).set(1 if is_open else 0)
            self._breakers[target] = is_open

    def model(self, name: str | None) -> str:
        """The label for a model name: itself when configured, else ``other``."""
        return name if name is not None and name in self.known else "other"

    def render(self) -> bytes:
        self.fold()
        return generate_latest(self.registry)
