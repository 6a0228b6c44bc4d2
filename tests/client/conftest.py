"""Fixtures for the client tests: one simulator per module, configs pointing at it, short limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from steadyhand import Config, ProviderConfig, Timeouts
from steadyhand._config import ModelAlias
from steadyhand.sim import SimServer

GENEROUS = Timeouts(connect=10.0, first_token=10.0, stall=10.0, total=30.0)
"""For answers the simulator does send: only a hang reaches these, however loaded the machine is."""


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


def sim_config(base_url: str, *, timeouts: Timeouts = GENEROUS, **extra: object) -> Config:
    """The simulator as four providers' worth of APIs: chat, legacy completions, OpenAI's Responses API
    and Anthropic messages."""
    return Config(
        providers={"sim": ProviderConfig(kind="sim", base_url=base_url, timeouts=timeouts)},
        models={
            "default": ModelAlias(target="sim:sim-basic"),
            "legacy": ModelAlias(target="sim:sim-basic", api="completions"),
            "claude": ModelAlias(target="sim:sim-basic", api="messages"),
            "responses": ModelAlias(target="sim:sim-basic", api="responses"),
        },
        **extra,
    )


@pytest.fixture
def config(sim: SimServer) -> Config:
    return sim_config(sim.base_url)
