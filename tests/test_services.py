"""The throwaway services themselves: a Redis server answers, and an outage is real (and recoverable)."""

from __future__ import annotations

import redis

from services import RedisServer


def test_redis_server_answers_and_an_outage_refuses_connections(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    client.set("steadyhand:probe", "1")
    assert client.get("steadyhand:probe") == b"1"


def test_a_stopped_redis_refuses_then_comes_back_empty() -> None:
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=1)
        client.set("k", "v")
        server.stop()
        try:
            client.ping()
        except redis.ConnectionError:
            pass
        else:
            raise AssertionError("a stopped redis-server still answered")
        server.start()
        assert client.get("k") is None
