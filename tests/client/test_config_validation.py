"""Config mistakes caught at load, naming the key: bad timeouts, and TOML's table rule misplacing a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from steadyhand import Config, ConfigurationError

SIM = '[providers.sim]\nkind = "sim"\n\n[models]\ndefault = "sim:sim-basic"\n'


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "steadyhand.toml"
    path.write_text(text)
    return Config.load(path, env={})


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("timeouts = { total = -1 }\n" + SIM, "timeouts.total"),
        ("timeouts = { connect = 0 }\n" + SIM, "timeouts.connect"),
        ("timeouts = { stall = nan }\n" + SIM, "timeouts.stall"),
        ('[providers.sim]\nkind = "sim"\ntimeouts = { connect = -1 }\n', "providers.sim.timeouts"),
        ('[providers.sim]\nkind = "sim"\ntimeouts = { first_token = -0.5 }\n', "timeouts.first_token"),
    ],
)
def test_zero_negative_or_nan_timeouts_are_rejected_at_load(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        _load(tmp_path, text)
    assert where in str(info.value) and "must be a positive number of seconds" in str(info.value)


def test_positive_timeouts_load(tmp_path: Path) -> None:
    config = _load(tmp_path, "timeouts = { connect = 0.5, total = 30 }\n" + SIM)
    assert config.timeouts.connect == 0.5 and config.timeouts.total == 30


def test_a_top_level_key_after_models_is_called_out(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        _load(tmp_path, SIM + 'database_url = "sqlite:///traces.db"\n')
    message = str(info.value)
    assert "sits under [models]" in message and "'database_url'" in message
    assert "above the first [table] header" in message


def test_an_alias_to_an_unknown_provider_is_rejected_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"alias 'fast' .* provider 'simm'.*did you mean 'sim'"):
        _load(tmp_path, SIM + 'fast = "simm:sim-basic"\n')


def test_a_top_level_key_under_a_provider_table_is_called_out(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"'project' is a top-level setting: move the line above"):
        _load(tmp_path, SIM.replace('kind = "sim"\n', 'kind = "sim"\nproject = "checkout"\n'))
