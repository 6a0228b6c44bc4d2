"""Cassettes: record against a live simulator, replay with it stopped, and never store a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from steadyhand import AsyncClient, Client, Config, ProviderConfig
from steadyhand._config import ModelAlias
from steadyhand.providers.cassette import CassetteMiss
from steadyhand.sim import SimServer

SECRET = "sk-proj-THISISASECRETKEY1234567890"


def _config(base_url: str, cassette: Path, mode: str) -> Config:
    return Config(
        providers={"sim": ProviderConfig(kind="sim", base_url=base_url, api_key=SECRET)},
        models={
            "default": ModelAlias(target="sim:sim-echo"),
            "claude": ModelAlias(target="sim:sim-echo", api="messages"),
        },
        cassette=str(cassette),
        cassette_mode=mode,
    )


async def test_record_then_replay_with_the_simulator_stopped(tmp_path: Path) -> None:
    cassette = tmp_path / "calls.json"
    prompt = f"repeat {SECRET} please"
    with SimServer() as sim:
        base_url = sim.base_url
        with Client(_config(base_url, cassette, "record")) as client:
            recorded = [client.chat(prompt, model=m) for m in ("default", "claude")]
            with client.stream("stream this back") as s:  # see cassette.py: echoed keys in streams
                recorded_stream = s.until_done()
        async with AsyncClient(_config(base_url, cassette, "auto")) as aclient:
            arecorded = await aclient.chat("async one")
        requests_seen = len(sim.requests)
    assert requests_seen == 4

    with Client(_config(base_url, cassette, "replay")) as client:  # the simulator is gone
        replayed = [client.chat(prompt, model=m) for m in ("default", "claude")]
        with client.stream("stream this back") as s:
            replayed_stream = s.until_done()
        with pytest.raises(CassetteMiss, match=r"calls\.json.*never recorded"):
            client.chat("never recorded")
    async with AsyncClient(_config(base_url, cassette, "replay")) as aclient:
        assert (await aclient.chat("async one")).text == arecorded.text
    # identical answers, except that the echoed key was masked on the way into the cassette
    assert [r.text for r in replayed] == [r.text.replace(SECRET, "sk-REDACTED") for r in recorded]
    assert [r.usage for r in replayed] == [r.usage for r in recorded]
    assert replayed_stream.text == recorded_stream.text == "stream this back"

    text = cassette.read_text()
    assert SECRET not in text and "THISISASECRET" not in text
    assert "authorization" not in text.lower() and "x-api-key" not in text.lower()
    assert "sk-REDACTED" in text  # the key in the prompt body was masked, not dropped


def test_replay_of_a_missing_cassette_says_to_record(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="record it first"):
        Client(_config("http://127.0.0.1:9", tmp_path / "none.json", "replay"))
