"""Two gateway replicas sharing ``state_url`` (a real redis-server) hold one rate limit together; the
policies' state survives a reload; with Redis down requests are still served and /readyz says
degraded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services import RedisServer
from steadyhand import Config
from steadyhand.server import Gateway, GatewayServer
from steadyhand.sim import SimServer

USER: list[Any] = [{"role": "user", "content": "hi"}]


def _config(sim: SimServer, state_url: str, model: str) -> Config:
    return Config.model_validate(
        {
            "state_url": state_url,
            "providers": {"sim": {"kind": "sim", "base_url": sim.base_url}},
            "models": {
                "limited": {
                    "target": f"sim:{model}",
                    "rate_limit": {"rpm": 2},
                    "retry": {"attempts": 1},
                    "deadline": 1.0,
                }
            },
        }
    )


@pytest.fixture
def replicas(sim: SimServer, redis_server: RedisServer) -> Iterator[list[GatewayServer]]:
    model = f"sim-basic:{uuid.uuid4().hex[:8]}"  # a window of its own in the session's Redis
    one = GatewayServer(Gateway(_config(sim, redis_server.url, model)))
    two = GatewayServer(Gateway(_config(sim, redis_server.url, model)))
    with one, two:
        yield [one, two]


def _call(server: GatewayServer) -> httpx.Response:
    body = {"model": "limited", "messages": USER, "max_tokens": 5}
    return httpx.post(server.base_url + "/v1/chat/completions", json=body, timeout=10)


def test_two_replicas_share_one_rate_limit(replicas: list[GatewayServer]) -> None:
    statuses = [_call(replicas[i % 2]).status_code for i in range(6)]
    assert statuses.count(200) == 2 and statuses.count(429) == 4, statuses
    refused = _call(replicas[0])
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")
    for server in replicas:
        ready = httpx.get(server.base_url + "/readyz").json()
        assert ready["status"] == "ready" and ready["checks"]["state"] == "ok"


def test_the_shared_state_survives_a_reload(replicas: list[GatewayServer]) -> None:
    one = replicas[0]
    assert [_call(one).status_code for _ in range(3)] == [200, 200, 429]
    gateway = one.gateway
    shared = gateway.shared
    one.call(lambda: gateway.reload(gateway.state.config.model_copy()))
    assert gateway.shared is shared
    assert _call(one).status_code == 429  # the window was not reset by the reload


def test_redis_down_is_degraded_not_failing(sim: SimServer) -> None:
    with RedisServer() as redis:
        config = _config(sim, redis.url, f"sim-basic:{uuid.uuid4().hex[:8]}")
        with GatewayServer(Gateway(config)) as server:
            assert _call(server).status_code == 200
            redis.stop()
            ready = httpx.get(server.base_url + "/readyz", timeout=10)
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            assert "unreachable" in ready.json()["checks"]["state"]
            assert _call(server).status_code == 200  # fail_open_local: this process's own window
