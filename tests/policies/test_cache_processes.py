"""Identical requests hit across processes: the default SQLite file, and a real redis-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import steadyhand
from services import RedisServer
from steadyhand.sim import SimServer

APP = """
import json, sys
from steadyhand import Client, Config

config = Config.load("steadyhand.toml", env={})
with Client(config) as client:
    response = client.chat(sys.argv[1], model="support")
    with client.stream(sys.argv[1], model="support") as stream:
        streamed = "".join(stream.text_stream())
print(json.dumps({"text": response.text, "hit": response.route.cache_hit, "model": response.model,
                  "streamed": streamed, "stream_hit": stream.response.route.cache_hit}))
"""
TOML = """
{cache_url}
[providers.sim]
kind = "sim"
base_url = "{sim}"

[models.support]
target = "sim:sim-500:primary"
fallbacks = ["sim:sim-basic:backup"]
retry = {{ attempts = 1 }}
cache = {{ ttl = 3600 }}
"""


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


def _run(folder: Path, question: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(Path(steadyhand.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", APP, question], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _models(sim: SimServer) -> list[str]:
    return [r.body["model"] for r in sim.requests if isinstance(r.body, dict)]


def test_a_second_process_hits_the_default_sqlite_file(tmp_path: Path, sim: SimServer) -> None:
    (tmp_path / "steadyhand.toml").write_text(TOML.format(cache_url="", sim=sim.base_url))
    sim.clear_requests()
    first = _run(tmp_path, "the same question")
    second = _run(tmp_path, "the same question")
    assert first["hit"] is False and first["stream_hit"] is True  # its own stream hit its own answer
    assert second["hit"] is True and second["stream_hit"] is True
    assert second["text"] == first["text"] == second["streamed"] and second["model"] == "sim-basic:backup"
    assert _models(sim) == ["sim-500:primary", "sim-basic:backup"]  # one call upstream in all
    assert (tmp_path / ".steadyhand" / "cache.db").is_file()


@pytest.mark.parametrize("key", ["cache_url", "state_url"])
def test_processes_share_answers_through_redis(
    key: str, tmp_path: Path, sim: SimServer, redis_server: RedisServer
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        text = TOML.format(cache_url=f'{key} = "{redis_server.url}"', sim=sim.base_url)
        (tmp_path / name / "steadyhand.toml").write_text(text)
    sim.clear_requests()
    question = f"asked over redis ({key})"
    first = _run(tmp_path / "a", question)
    second = _run(tmp_path / "b", question)  # another folder: no SQLite file to share
    assert (first["hit"], second["hit"]) == (False, True) and first["text"] == second["text"]
    assert _models(sim) == ["sim-500:primary", "sim-basic:backup"]
    assert not (tmp_path / "a" / ".steadyhand").exists()
    import redis

    keys = redis.Redis.from_url(redis_server.url).keys("steadyhand:cache:*")
    assert len(keys) >= 1  # the entries live in Redis, under the cache's prefix


def test_a_redis_that_is_down_is_a_miss_not_an_error(tmp_path: Path, sim: SimServer) -> None:
    from services import free_port

    text = TOML.format(cache_url=f'cache_url = "redis://127.0.0.1:{free_port()}/0"', sim=sim.base_url)
    (tmp_path / "steadyhand.toml").write_text(text)
    sim.clear_requests()
    result = _run(tmp_path, "nobody listens")
    assert result["hit"] is False and result["stream_hit"] is False
    assert _models(sim) == ["sim-500:primary", "sim-basic:backup"] * 2
