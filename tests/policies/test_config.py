"""Alias-level policy tables in steadyhand.toml: the issue's example works as written, wrong tables
are ConfigurationErrors at load that name the key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from steadyhand import Client, Config, ConfigurationError, ServerError
from steadyhand._config import ModelAlias, ProviderConfig
from steadyhand.policies import Route
from steadyhand.sim import SimServer
from steadyhand.testing import QueueProvider

ISSUE_TOML = """
[providers.sim]
kind = "sim"

[models]
default = "sim:sim-basic"

[models.support]
target = "sim:sim-500:primary"                     # a primary that always fails
fallbacks = ["sim:sim-basic:backup", { target = "sim:sim-basic:large", on = ["context_window"] }]
deadline = 8.0                                     # seconds, across every attempt, wait and fallback
retry = { attempts = 3, base = 0.25, cap = 8.0 }   # exponential backoff with full jitter
breaker = { failures = 5, window = 30.0, cooldown = 15.0 }
rate_limit = { rpm = 600, tpm = 200000 }
cache = { ttl = 3600 }
degraded = "Our assistant is busy right now; please try again in a minute."
"""


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


def _load(tmp_path: Path, text: str, sim_url: str = "http://127.0.0.1:1") -> Config:
    path = tmp_path / "steadyhand.toml"
    path.write_text(text)
    return Config.load(path, env={"STEADYHAND_PROVIDERS__SIM__BASE_URL": sim_url})


def test_the_issues_table_loads(tmp_path: Path) -> None:
    support = _load(tmp_path, ISSUE_TOML).models["support"]
    assert support.deadline == 8.0 and support.retry is not None and support.retry.attempts == 3
    assert support.breaker is not None and support.breaker.cooldown == 15.0
    assert support.fallbacks[0] == "sim:sim-basic:backup"
    large = support.fallbacks[1]
    assert not isinstance(large, str) and large.on == ("context_window",)
    assert support.rate_limit is not None and support.rate_limit.rpm == 600 and support.has_policies
    assert not _load(tmp_path, ISSUE_TOML).models["default"].has_policies


def test_the_issues_alias_answers_from_the_backup(
    tmp_path: Path, sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = _load(tmp_path, ISSUE_TOML, sim.base_url)
    sim.clear_requests()
    with Client(config) as client:  # no policies= : the table applies by default
        response = client.chat("hi", model="support")
    assert response.model == "sim-basic:backup"
    route = response.route
    assert isinstance(route, Route) and route.answered_by == "sim:sim-basic:backup"
    assert [s.status for s in route.attempts] == [500, 500, 500, None]  # Retry-After 1 s fits the cap
    assert route.deadline_left is not None and 0 < route.deadline_left < 8.0
    models = [r.body["model"] for r in sim.requests if isinstance(r.body, dict)]
    assert models == ["sim-500:primary"] * 3 + ["sim-basic:backup"]  # never the context-window fallback
    assert "does not enforce yet" not in caplog.text  # rate_limit, cache and degraded all are
    sim.clear_requests()
    with Client(config) as client:  # `cache = { ttl = 3600 }`: a new client, the same SQLite file
        again = client.chat("hi", model="support")
    assert again.text == response.text and again.route.cache_hit and sim.requests == []
    assert again.route.answered_by == "sim:sim-basic:backup" and not again.degraded
    assert Path(".steadyhand/cache.db").is_file()  # the default store, in the working directory


@pytest.mark.parametrize(
    ("table", "names"),
    [
        ("retries = { attempts = 3 }", "retries"),
        ("retry = { attempts = 3, jitter = true }", "jitter"),
        ("deadline = -1.0", "deadline"),
        ("retry = { attempts = 0 }", "attempts"),
        ('fallbacks = ["nope"]', "'nope', which is not an alias"),
        ('fallbacks = ["other:x"]', "provider 'other'"),
        ('fallbacks = [{ target = "sim:b", on = ["context"] }]', "unknown error kind"),
    ],
)
def test_a_wrong_table_is_a_configuration_error_naming_the_key(
    tmp_path: Path, table: str, names: str
) -> None:
    text = f'[providers.sim]\nkind = "sim"\n\n[models.support]\ntarget = "sim:sim-basic"\n{table}\n'
    with pytest.raises(ConfigurationError, match=names):
        _load(tmp_path, text)


def test_a_fallback_cycle_is_rejected_at_load(tmp_path: Path) -> None:
    text = """
[providers.sim]
kind = "sim"

[models.a]
target = "sim:one"
fallbacks = ["b"]

[models.b]
target = "sim:two"
fallbacks = ["sim:three", "a"]
"""
    with pytest.raises(ConfigurationError, match=r"cycle \(a -> b -> a\)"):
        _load(tmp_path, text)


def test_a_table_built_in_code_applies_too() -> None:
    config = Config(
        providers={"sim": ProviderConfig(kind="sim")},
        models={
            "main": ModelAlias(target="primary:p-1", fallbacks=("spare",), retry={"attempts": 1}),
            "spare": ModelAlias(target="backup:b-1"),
            "bare": ModelAlias(target="primary:p-1"),
        },
    )
    primary = QueueProvider(name="primary").enqueue(ServerError("down", status_code=500))
    primary.enqueue(ServerError("down", status_code=500))
    backup = QueueProvider(name="backup").enqueue("from backup")
    client = Client(config, providers={"primary": primary, "backup": backup})
    assert client.chat("hi", model="main").text == "from backup" and len(primary.history) == 1
    with pytest.raises(ServerError):  # no table: no policy, the provider's error as before
        client.chat("hi", model="bare")
