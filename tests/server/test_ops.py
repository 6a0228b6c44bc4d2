"""Operations: /metrics (bounded labels), /healthz and /readyz, and config reload without restart
(POST /admin/reload with the admin key; a bad config is rejected and the old one kept; reloading
under load fails no request)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from steadyhand import Config
from steadyhand.server import Gateway, GatewayOptions, GatewayServer
from steadyhand.sim import SimServer

from .conftest import MODELS, gateway_config

USER: list[Any] = [{"role": "user", "content": "hi"}]
ADMIN = "admin-secret"


@pytest.fixture
def reloadable(sim: SimServer) -> Iterator[tuple[GatewayServer, dict[str, Any]]]:
    """A gateway whose reload source is a dict the test edits (as a file would be)."""
    source: dict[str, Any] = {"models": dict(MODELS)}
    gateway = Gateway(
        gateway_config(sim),
        options=GatewayOptions(admin_key=ADMIN),
        reload=lambda: gateway_config(sim, source["models"]),
    )
    with GatewayServer(gateway) as server:
        yield server, source


def test_metrics_count_requests_and_collapse_unknown_models(gateway: GatewayServer) -> None:
    with httpx.Client() as client:
        for _ in range(3):
            client.post(gateway.base_url + "/v1/chat/completions", json={"model": "fast", "messages": USER})
        client.post(gateway.base_url + "/v1/chat/completions", json={"model": "flaky", "messages": USER})
        for i in range(20):  # junk model names must not grow the series
            client.post(
                gateway.base_url + "/v1/chat/completions", json={"model": f"junk-{i}", "messages": USER}
            )
        text = client.get(gateway.base_url + "/metrics").text
    assert 'steadyhand_gateway_requests_total{model="fast",route="/v1/chat/completions",status="200"}' in text
    assert 'model="other",route="/v1/chat/completions",status="404"' in text
    assert "junk-" not in text
    assert 'steadyhand_gateway_fallbacks_total{model="flaky"} 1.0' in text
    assert "steadyhand_gateway_overhead_seconds_bucket" in text and "steadyhand_gateway_tokens_total" in text
    assert 'steadyhand_gateway_rejections_total{reason="model"}' in text
    assert 'steadyhand_gateway_cost_usd_total{model="fast"}' in text  # the simulator's models are priced
    assert 'steadyhand_gateway_tokens_total{direction="output",model="fast"}' in text


def test_healthz_and_readyz(gateway: GatewayServer) -> None:
    health = httpx.get(gateway.base_url + "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.headers["x-steadyhand-config-hash"] == health.json()["config_hash"]
    ready = httpx.get(gateway.base_url + "/readyz")
    assert (
        ready.status_code == 200
        and ready.json()["status"] == "ready"
        and ready.json()["checks"]["config"] == "ok"
    )


def test_admin_reload_needs_the_admin_key(reloadable: tuple[GatewayServer, dict[str, Any]]) -> None:
    server, _ = reloadable
    assert httpx.post(server.base_url + "/admin/reload").status_code == 401
    assert (
        httpx.post(server.base_url + "/admin/reload", headers={"authorization": "Bearer nope"}).status_code
        == 401
    )


def test_reload_good_then_bad_under_load_fails_no_request(
    reloadable: tuple[GatewayServer, dict[str, Any]],
) -> None:
    server, source = reloadable
    admin = {"authorization": f"Bearer {ADMIN}"}
    before = httpx.get(server.base_url + "/healthz").json()["config_hash"]
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                for body in (
                    {"model": "fast", "messages": USER, "stream": True},
                    {"model": "echo", "messages": USER},
                ):
                    r = client.post(server.base_url + "/v1/chat/completions", json=body)
                    if r.status_code != 200 or (body.get("stream") and "[DONE]" not in r.text):
                        failures.append(f"{r.status_code} {r.text[:200]}")

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        source["models"] = {**MODELS, "fresh": "sim:sim-echo"}
        good = httpx.post(server.base_url + "/admin/reload", headers=admin)
        assert good.status_code == 200 and good.json()["previous"] == before
        after = good.json()["config_hash"]
        assert after != before and httpx.get(server.base_url + "/healthz").json()["config_hash"] == after
        source["models"] = {**MODELS, "broken": {"target": "sim:x", "fallbacks": ["nowhere"]}}
        bad = httpx.post(server.base_url + "/admin/reload", headers=admin)
        assert bad.status_code == 400 and "nowhere" in bad.json()["error"]["message"]
        assert httpx.get(server.base_url + "/healthz").json()["config_hash"] == after
        fresh = httpx.post(
            server.base_url + "/v1/chat/completions", json={"model": "fresh", "messages": USER}
        )
        assert fresh.status_code == 200 and fresh.headers["x-steadyhand-config-hash"] == after
    finally:
        stop.set()
        for w in workers:
            w.join(30)
    assert failures == []


def test_reload_without_a_source_is_refused(sim: SimServer) -> None:
    gateway = Gateway(gateway_config(sim), options=GatewayOptions(admin_key=ADMIN))
    with GatewayServer(gateway) as server:
        r = httpx.post(server.base_url + "/admin/reload", headers={"x-api-key": ADMIN})
        assert r.status_code == 400 and "no configuration file" in r.json()["error"]["message"]
    assert isinstance(gateway.state.config, Config)


def test_breaker_gauge_follows_each_change_of_state() -> None:
    """Every answer reports its target's breaker; the gauge is set only when the state changed."""
    from steadyhand.server.metrics import Metrics

    m = Metrics(["sim:x"])

    def gauge() -> str:
        line = next(
            x for x in m.render().decode().splitlines() if x.startswith("steadyhand_gateway_breaker_open{")
        )
        return line.rsplit(" ", 1)[1]

    m.breaker("sim:x", False)
    assert gauge() == "0.0"
    m.breaker("sim:x", True)
    m.breaker("sim:x", True)
    assert gauge() == "1.0"
    m.breaker("sim:x", False)
    assert gauge() == "0.0"


def test_series_counted_as_plain_numbers_render_as_prometheus_would() -> None:
    """The per-request series are kept as plain numbers and folded in at scrape time: what /metrics
    shows, scraped mid-way and at the end, is what incrementing the prometheus children showed."""
    import re

    from steadyhand.server.metrics import Metrics

    m, ref = Metrics(["bench"]), Metrics(["bench"])
    route = "/v1/chat/completions"

    def scrape(metrics: Metrics) -> str:
        return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 T", metrics.render().decode())

    for i, v in enumerate([0.0021, 0.3, 7.5, 200.0, 0.1, 1e-5, 0.005, 0.1 + 0.2, float("nan")]):
        s = m.request_series(route, "bench", 200 if i % 3 else 502)
        s.count += 1
        s.latency.observe(v)
        s.overhead.observe(v / 1000)
        m.usage("bench", 21, 12, i, 0.0001725 * i)
        ref.of(ref.requests, route, "bench", "200" if i % 3 else "502").inc()
        ref.of(ref.latency, route, "bench").observe(v)
        ref.of(ref.overhead, route).observe(v / 1000)
        for direction, n in (("input", 21), ("output", 12), ("cached_input", i)):
            ref.of(ref.tokens, "bench", direction).inc(n)
        if i:
            ref.of(ref.cost, "bench").inc(0.0001725 * i)
        if i in (0, 4):  # a scrape between requests folds what came so far, once
            assert scrape(m) == scrape(ref)
    assert scrape(m) == scrape(ref)
    assert "steadyhand_gateway_cost_usd_total" in scrape(m)
