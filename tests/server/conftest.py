"""Fixtures for the gateway tests: the simulator upstream and a gateway in front of it, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from steadyhand import Config
from steadyhand.server import Gateway, GatewayOptions, GatewayServer
from steadyhand.sim import SimServer

MODELS: dict[str, Any] = {
    "fast": "sim:sim-basic",
    "echo": "sim:sim-echo",
    "tools": "sim:sim-tool-call",
    "claude": {"target": "sim:sim-basic", "api": "messages"},
    "claude-echo": {"target": "sim:sim-echo", "api": "messages"},
    "claude-tools": {"target": "sim:sim-tool-call", "api": "messages"},
    "resp-echo": {"target": "sim:sim-echo", "api": "responses"},
    "flaky": {"target": "sim:sim-500", "fallbacks": ["fast"], "retry": {"attempts": 1}},
    "flaky-msg": {
        "target": "sim:sim-500",
        "api": "messages",
        "fallbacks": ["claude"],
        "retry": {"attempts": 1},
    },
    "down": {"target": "sim:sim-503", "retry": {"attempts": 1}},
    "limited": {"target": "sim:sim-429", "retry": {"attempts": 1}},
    "cut": "sim:sim-cut",
    "cut-msg": {"target": "sim:sim-cut", "api": "messages"},
    "stall": {"target": "sim:sim-stall", "deadline": 1.0},
    "hang": {"target": "sim:sim-hang", "deadline": 0.5},
}


def gateway_config(sim: SimServer, models: dict[str, Any] | None = None) -> Config:
    return Config.model_validate(
        {"providers": {"sim": {"kind": "sim", "base_url": sim.base_url}}, "models": models or MODELS}
    )


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(seed=0) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(sim: SimServer) -> Iterator[GatewayServer]:
    """A gateway (no auth, no tracing) on a free port in front of the simulator."""
    options = GatewayOptions(max_body_bytes=256 * 1024, read_timeout=1.0, idle_timeout=10.0)
    with GatewayServer(Gateway(gateway_config(sim), options=options)) as server:
        yield server


@pytest.fixture(scope="module")
def oai(gateway: GatewayServer) -> Iterator[openai.OpenAI]:
    """The official OpenAI SDK pointed at the gateway (no retries: the gateway's policies retry)."""
    with openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def ant(gateway: GatewayServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.base_url, api_key="unused", max_retries=0) as client:
        yield client
