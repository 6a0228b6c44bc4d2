"""Config loading (file + env), alias resolution and its errors, the pin rule, the floating-name warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from steadyhand import Client, Config, ConfigurationError, ProviderConfig
from steadyhand._config import is_pinned
from steadyhand.providers.registry import build_provider
from steadyhand.testing import QueueProvider

TOML = """
database_url = "sqlite:///from-file.db"

[providers.openai]
kind = "openai"
api_key_env = "MY_OPENAI_KEY"
timeouts = { connect = 2.0, total = 30.0 }

[providers.local]
kind = "openai_compatible"
base_url = "http://127.0.0.1:11434/v1"
capabilities = { seed = false }

[models]
default = "openai:gpt-4o-2024-08-06"
legacy = { target = "openai:gpt-3.5-turbo-instruct-0914", api = "completions" }
"""


@pytest.fixture
def toml_file(tmp_path: Path) -> Path:
    path = tmp_path / "steadyhand.toml"
    path.write_text(TOML)
    return path


def test_file_and_env_load_with_env_winning(toml_file: Path) -> None:
    env = {
        "STEADYHAND_DATABASE_URL": "sqlite:///from-env.db",
        "STEADYHAND_PROVIDERS__LOCAL__BASE_URL": "http://x/v1",
    }
    config = Config.load(toml_file, env=env)
    assert config.database_url == "sqlite:///from-env.db"
    assert config.providers["local"].base_url == "http://x/v1"
    assert (
        config.providers["openai"].timeouts is not None and config.providers["openai"].timeouts.total == 30.0
    )
    legacy = config.resolve("legacy")
    assert (legacy.provider, legacy.model, legacy.api) == (
        "openai",
        "gpt-3.5-turbo-instruct-0914",
        "completions",
    )
    assert config.resolve("local:llama3:8b-instruct-q4_0").model == "llama3:8b-instruct-q4_0"


def test_config_path_from_env_and_missing_file(toml_file: Path) -> None:
    assert "legacy" in Config.load(env={"STEADYHAND_CONFIG": str(toml_file)}).models
    with pytest.raises(ConfigurationError, match="does not exist"):
        Config.load(toml_file.with_name("nope.toml"), env={})


def test_unknown_alias_names_the_fix(toml_file: Path) -> None:
    config = Config.load(toml_file, env={})
    with pytest.raises(ConfigurationError) as info:
        config.resolve("legacyy")
    message = str(info.value)
    assert "did you mean 'legacy'?" in message and "default, legacy" in message and "[models]" in message
    with pytest.raises(ConfigurationError, match="did you mean 'openai'.*known providers: local, openai"):
        config.resolve("opena:gpt-4o-2024-08-06")


def test_missing_key_says_which_variable_to_set(toml_file: Path) -> None:
    config = Config.load(toml_file, env={})
    with pytest.raises(
        ConfigurationError, match=r"set MY_OPENAI_KEY or put api_key under \[providers.openai\]"
    ):
        build_provider("openai", api="chat", config=config)
    keyed = Config.load(toml_file, env={"MY_OPENAI_KEY": "sk-test-123456789"})
    provider = build_provider("openai", api="completions", config=keyed)
    assert provider.timeouts.total == 30.0 and provider.wire.name == "openai_completions"


def test_an_invalid_file_is_a_configuration_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[providers.x]\nkind = "gpt"\n')
    with pytest.raises(ConfigurationError, match="invalid configuration"):
        Config.load(bad, env={})


def test_builtin_default_is_the_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./steadyhand.toml here
    config = Config.load(env={"STEADYHAND_SIM_URL": "http://127.0.0.1:1"})
    assert config.builtin
    target = config.resolve("default")
    assert (target.provider, target.model) == ("sim", "sim-basic")
    assert config.all_providers()["sim"].base_url == "http://127.0.0.1:1"
    # once anything is configured, nothing is implicit
    assert not Config(providers={"p": ProviderConfig(kind="sim")}).builtin


def test_injected_providers_take_the_default_alias() -> None:
    fake = QueueProvider().enqueue("hi")
    assert Client(Config(), providers={"fake": fake}).chat("x").text == "hi"
    assert fake.history[0].model == "default"


@pytest.mark.parametrize(
    ("name", "pinned"),
    [
        ("gpt-4o-2024-08-06", True),
        ("claude-3-5-sonnet-20241022", True),
        ("gpt-4-0613", True),
        ("gpt-3.5-turbo-instruct-0914", True),
        ("gpt-4-1106-preview", True),
        ("gemini-1.5-pro-002", True),
        ("claude-3-5-haiku@20241022", True),
        ("llama3:8b-instruct-q4_0", True),
        ("/models/smollm2-135m.gguf", True),
        ("./weights/model.gguf", True),
        ("gpt-4o", False),
        ("o3-mini", False),
        ("claude-3-5-sonnet-latest", False),
        ("llama3:latest", False),
        ("llama-3.1-405b", False),
        ("gpt-4o-mini", False),
    ],
)
def test_pin_rule(name: str, pinned: bool) -> None:
    assert is_pinned(name) is pinned


def test_a_floating_name_warns_once_per_client(caplog: pytest.LogCaptureFixture) -> None:
    config = Config(
        providers={"openai": ProviderConfig(kind="openai", api_key="sk-x")},
        models={"fast": "openai:gpt-4o", "pinned": "openai:gpt-4o-2024-08-06"},
    )
    caplog.set_level(logging.WARNING, logger="steadyhand.client")
    client = Client(config)
    for _ in range(3):
        client.resolve("fast")
        client.resolve("openai:gpt-4o")
        client.resolve("pinned")
    warnings = [r for r in caplog.records if "not pinned" in r.getMessage()]
    assert len(warnings) == 1 and "gpt-4o" in warnings[0].getMessage()
    Client(config).resolve("fast")  # a new client warns again: no global state
    assert len([r for r in caplog.records if "not pinned" in r.getMessage()]) == 2
