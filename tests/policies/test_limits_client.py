"""Rate limits, traffic classes and balanced targets through the client, from steadyhand.toml,
against the simulator over loopback: sync, async and streamed."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from steadyhand import AsyncClient, Client, Config, ConfigurationError, RateLimited
from steadyhand.policies import rate_limit
from steadyhand.sim import SimServer
from steadyhand.testing import QueueProvider


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


def _load(tmp_path: Path, text: str, sim: SimServer) -> Config:
    path = tmp_path / "steadyhand.toml"
    path.write_text(text)
    return Config.load(path, env={"STEADYHAND_PROVIDERS__SIM__BASE_URL": sim.base_url})


def _seen(sim: SimServer, models: set[str]) -> list[str]:
    return [r.model for r in sim.requests if r.model in models]


def test_the_alias_rate_limit_is_enforced_and_test_traffic_has_its_share(
    tmp_path: Path, sim: SimServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    config = _load(
        tmp_path,
        f"""
[providers.sim]
kind = "sim"

[models.support]
target = "sim:sim-basic:{tag}"
rate_limit = {{ rpm = 10, tpm = 200000, shares = {{ test = 0.2 }} }}
""",
        sim,
    )
    with Client(config) as client:
        for _ in range(2):
            client.chat("hi", model="support", traffic="test", timeout=1)
        with pytest.raises(RateLimited) as info:
            client.chat("hi", model="support", traffic="test", timeout=1)
        for _ in range(8):  # an eval run at its share leaves production its room
            client.chat("hi", model="support", timeout=1)
        with pytest.raises(RateLimited):
            client.chat("hi", model="support", timeout=1)
    assert info.value.local and info.value.retry_after is not None and info.value.retry_after > 50
    assert len(_seen(sim, {f"sim-basic:{tag}"})) == 10


def test_the_client_wide_traffic_class_and_the_per_call_one(sim: SimServer) -> None:
    queue = QueueProvider(name="q").enqueue("a", "b", "c")
    client = Client(
        providers={"q": queue}, traffic="test", policies=[rate_limit(rpm=10, shares={"test": 0.1})]
    )
    client.chat("hi", timeout=1)
    with pytest.raises(RateLimited):  # without a timeout it would wait the minute out
        client.chat("hi", timeout=1)
    assert client.chat("hi", traffic="production", timeout=1).text == "b"
    with pytest.raises(ConfigurationError, match="traffic must be one of"):
        client.chat("hi", traffic="batch")  # type: ignore[arg-type]


async def test_async_and_streamed_calls_draw_on_the_same_window(tmp_path: Path, sim: SimServer) -> None:
    tag = uuid.uuid4().hex[:8]
    config = _load(
        tmp_path,
        f"""
[providers.sim]
kind = "sim"

[models.support]
target = "sim:sim-basic:{tag}"
rate_limit = {{ rpm = 2 }}
""",
        sim,
    )
    async with AsyncClient(config) as client:
        await client.chat("hi", model="support", timeout=1)
        async with client.stream("hi", model="support", timeout=1) as stream:
            text = "".join([c.text async for c in stream])
        assert text
        with pytest.raises(RateLimited):
            async with client.stream("hi", model="support", timeout=1) as stream:
                async for _ in stream:
                    pass
        with pytest.raises(RateLimited):
            await client.chat("hi", model="support", timeout=1)
    assert len(_seen(sim, {f"sim-basic:{tag}"})) == 2


def test_balanced_targets_share_the_calls_and_a_full_one_hands_over(tmp_path: Path, sim: SimServer) -> None:
    tag = uuid.uuid4().hex[:8]
    a, b = f"sim-basic:a{tag}", f"sim-basic:b{tag}"
    config = _load(
        tmp_path,
        f"""
[providers.sim]
kind = "sim"

[models.pool]
targets = ["sim:{a}", {{ target = "sim:{b}", weight = 3 }}]

[models.busy]
targets = ["sim:{a}x", "sim:{b}x"]
balance = "least_busy"
rate_limit = {{ rpm = 1 }}
""",
        sim,
    )
    assert config.models["pool"].target == f"sim:{a}"  # the first target names the alias
    with Client(config) as client:
        answered = Counter(client.chat("hi", model="pool").model for _ in range(40))
        assert set(answered) == {a, b} and answered[b] > answered[a]
        first = client.chat("hi", model="busy", timeout=1)
        second = client.chat("hi", model="busy", timeout=1)  # the first target's minute is used
        with pytest.raises(RateLimited):
            client.chat("hi", model="busy", timeout=1)
    assert {first.model, second.model} == {f"{a}x", f"{b}x"}
    assert [s.outcome for s in second.route.steps][-1] == "ok"
    assert Counter(_seen(sim, {a, b})) == answered


def test_a_target_list_naming_an_unknown_provider_fails_at_load(tmp_path: Path, sim: SimServer) -> None:
    with pytest.raises(ConfigurationError, match="points at provider 'nope'"):
        _load(
            tmp_path, '[providers.sim]\nkind = "sim"\n\n[models.pool]\ntargets = ["sim:x", "nope:y"]\n', sim
        )
    with pytest.raises(ConfigurationError, match="shares"):
        _load(
            tmp_path,
            '[providers.sim]\nkind = "sim"\n\n[models.a]\ntarget = "sim:x"\n'
            "rate_limit = { rpm = 10, shares = { tests = 0.5 } }\n",
            sim,
        )


def test_an_alias_needs_a_target_or_targets_and_the_first_target_names_it() -> None:
    from pydantic import ValidationError

    from steadyhand import ModelAlias
    from steadyhand._config import TargetTable

    alias = ModelAlias(targets=[TargetTable(target="a:a-1", weight=2), "b:b-1"])
    assert alias.target == "a:a-1" and alias.target_names() == [("a:a-1", 2.0), ("b:b-1", 1.0)]
    assert alias.has_policies
    with pytest.raises(ValidationError, match="needs target"):
        ModelAlias()
    with pytest.raises(ValidationError, match="must be 'provider:model'"):
        ModelAlias(targets=["a:a-1", "nocolon"])
