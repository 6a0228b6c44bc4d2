"""Limits shared through a real redis-server: two processes stay within one RPM limit together;
when Redis is down (stopped, or hung) a call never waits on it and the limits fall back to this
process (``fail_open_local``) or refuse (``fail_closed``), counted either way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services import RedisServer
from steadyhand import AsyncClient, Client, Config, ConfigurationError, RateLimited, ServerError
from steadyhand.policies import Breaker, RateLimit, Retry, SharedState, resilient
from steadyhand.policies.ratelimit import limit_key
from steadyhand.sim import SimServer
from steadyhand.testing import QueueProvider
from steadyhand.tracing import SpanRecord

from ._fakes import REDIS_CLOCK

SRC = Path(__file__).resolve().parents[2] / "src"
CHILD = Path(__file__).with_name("_limit_child.py")


class Sink:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server this test may stop, hang and restart."""
    with RedisServer() as server:
        yield server


def _config(state_url: str, sim_url: str, model: str, **state: object) -> Config:
    return Config.model_validate(
        {
            "state_url": state_url,
            **state,
            "providers": {"sim": {"kind": "sim", "base_url": sim_url}},
            "models": {
                "limited": {"target": f"sim:{model}", "rate_limit": {"rpm": 1}, "retry": {"attempts": 1}}
            },
        }
    )


def _model() -> str:
    return f"sim-basic:{uuid.uuid4().hex[:8]}"  # a window of its own in the session's Redis


def test_two_processes_sharing_one_rpm_limit_stay_within_it_together(
    sim: SimServer, redis_server: RedisServer
) -> None:
    model, duration = _model(), 3.0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    env.pop("COVERAGE_PROCESS_CONFIG", None)  # coverage's tracing would slow the children's calls
    args = [redis_server.url, sim.base_url, model, repr(duration), "1"]
    children = [
        subprocess.Popen(
            [sys.executable, str(CHILD), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        for child in children:  # each has imported steadyhand and opened its connections
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        start = time.time() + 0.2
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{start!r}\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=60)[0] for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert [child.returncode for child in children] == [0, 0], outputs
    summaries = [json.loads(out) for out in outputs]
    # Both drew on the window (how the answers split between them is the scheduler's business: on a
    # loaded machine one process got 4 of 32), and neither lost Redis.
    assert all(s["answers"] >= 1 and s["errors"] == 0 and s["unreachable"] == 0 for s in summaries), summaries
    times = sorted(r.time for r in sim.requests if r.model == model)
    assert len(times) == sum(s["answers"] for s in summaries)
    # 600 rpm over 1 s windows is 10 per second for both together (each alone could do 10 too):
    # in every second of arrivals at most 10, plus one in-flight reservation per process.
    busiest = max(sum(1 for t in times if first <= t < first + 1.0) for first in times)
    assert 6 <= busiest <= 10 + 2, " ".join(f"{t - times[0]:.3f}" for t in times)
    assert len(times) <= 10 * (duration + 1) + 2


def test_clients_given_the_same_state_url_share_a_window(sim: SimServer, redis_server: RedisServer) -> None:
    model = _model()
    with (
        Client(_config(redis_server.url, sim.base_url, model)) as one,
        Client(_config(redis_server.url, sim.base_url, model)) as two,
    ):
        assert one.state.backend == "redis" and one.state is not two.state
        one.chat("hi", model="limited", timeout=1)
        with pytest.raises(RateLimited) as info:
            two.chat("hi", model="limited", timeout=1)
    assert info.value.local and info.value.retry_after is not None and info.value.retry_after > 50


def test_fail_open_local_limits_each_process_alone_while_redis_is_down(
    sim: SimServer, private_redis: RedisServer
) -> None:
    sink = Sink()
    client = Client(_config(private_redis.url, sim.base_url, _model()), tracer=sink)
    private_redis.stop()
    try:
        client.chat("hi", model="limited", timeout=2)  # admitted by this process's own window
        with pytest.raises(RateLimited) as info:
            client.chat("hi", model="limited", timeout=2)  # ...which still holds rpm = 1
        stats = client.state.stats
        assert info.value.local and stats.unreachable >= 2 and stats.local == 2 and stats.refused == 0
        llm = next(span for span in sink.spans if span.kind == "llm")
        assert llm.attributes["steadyhand.rate_limit"]["state"] == "local"  # noted on the span
    finally:
        client.close()


def test_fail_closed_refuses_rate_limited_calls_while_redis_is_down(
    sim: SimServer, private_redis: RedisServer
) -> None:
    sink = Sink()
    client = Client(
        _config(private_redis.url, sim.base_url, _model(), state_failure="fail_closed"), tracer=sink
    )
    private_redis.stop()
    try:
        with pytest.raises(RateLimited, match="fail_closed") as info:
            client.chat("hi", model="limited", timeout=2)
        assert info.value.local and info.value.retry_after is None
        assert client.state.stats.refused == 1 and client.state.stats.unreachable >= 1
        llm = next(span for span in sink.spans if span.kind == "llm")
        assert llm.status == "error" and llm.attributes["steadyhand.rate_limit"]["state"] == "refused"
        assert not [r for r in sim.requests if r.model == client.resolve("limited").model]  # nothing sent
    finally:
        client.close()


def test_a_hung_redis_never_hangs_a_call(sim: SimServer, private_redis: RedisServer) -> None:
    client = Client(_config(private_redis.url, sim.base_url, _model()))
    client.chat("hi", model="limited", timeout=5)  # connected: the next call reuses the socket
    assert private_redis._process is not None
    os.kill(private_redis._process.pid, signal.SIGSTOP)  # accepts nothing, answers nothing
    results: list[object] = []
    try:
        worker = threading.Thread(target=lambda: results.append(_refusal(client)))
        worker.start()
        worker.join(timeout=20)  # generous: bounded is what matters (state_timeout is 0.25 s)
        assert not worker.is_alive(), "the call hung on Redis"
        assert results == ["RateLimited local"]  # this process's window took over: rpm 1 is used
        assert client.state.stats.unreachable >= 1 and client.state.stats.local == 2
    finally:
        os.kill(private_redis._process.pid, signal.SIGCONT)
        client.close()


def _refusal(client: Client) -> str:
    try:
        client.chat("hi", model="limited", timeout=5)
        client.chat("hi", model="limited", timeout=5)
    except RateLimited as error:
        return f"RateLimited {'local' if error.local else 'provider'}"
    return "answered twice"


async def test_the_async_client_falls_back_the_same_way(sim: SimServer, private_redis: RedisServer) -> None:
    client = AsyncClient(_config(private_redis.url, sim.base_url, _model()))
    await client.chat("hi", model="limited", timeout=2)  # through Redis
    private_redis.stop()
    try:
        await client.chat("hi", model="limited", timeout=2)  # this process's own window is still empty
        with pytest.raises(RateLimited) as info:
            await client.chat("hi", model="limited", timeout=2)
        assert info.value.local and info.value.retry_after is not None and info.value.retry_after > 50
        assert client.state.stats.local == 2 and client.state.stats.unreachable >= 2
    finally:
        await client.aclose()


async def test_async_reservations_go_local_when_redis_is_down(private_redis: RedisServer) -> None:
    from steadyhand.policies.redis_state import RedisState

    state = RedisState(private_redis.url, retry_interval=0.0)
    limit, key = RateLimit(rpm=2), limit_key("p", uuid.uuid4().hex)
    caps = limit.caps("production")
    first = await state.areserve(
        key, "a", now=time.time(), window=60, caps=caps, need=0, traffic="production"
    )
    private_redis.stop()
    second = await state.areserve(
        key, "b", now=time.time(), window=60, caps=caps, need=0, traffic="production"
    )
    private_redis.start()
    third = await state.areserve(
        key, "c", now=time.time(), window=60, caps=caps, need=0, traffic="production"
    )
    assert (first.source, second.source, third.source) == ("redis", "local", "redis")
    assert first.admitted and second.admitted and third.admitted  # a restarted Redis comes back empty
    assert state.stats.unreachable == 1 and state.stats.local == 1
    await state.aclose()


def test_a_restarted_redis_is_used_again(private_redis: RedisServer) -> None:
    from steadyhand.policies.redis_state import RedisState

    state = RedisState(private_redis.url, retry_interval=0.0)
    state.set_bytes("k", b"v", ttl=60)
    assert state.get_bytes("k") == b"v"
    private_redis.stop()
    assert state.get_bytes("k") is None  # a miss, never an error
    state.set_bytes("k", b"w")  # dropped
    private_redis.start()
    assert state.get_bytes("k") is None  # the restarted server is empty
    state.set_bytes("k", b"x", ttl=60)
    assert state.get_bytes("k") == b"x" and state.stats.unreachable == 2
    state.close()


def test_state_url_must_be_a_redis_url() -> None:
    with pytest.raises(ConfigurationError, match="must be a Redis URL"):
        Config.load(None, env={"STEADYHAND_STATE_URL": "http://localhost:6379"})
    with pytest.raises(ConfigurationError, match="state_failure"):
        Config.load(None, env={"STEADYHAND_STATE_FAILURE": "fail_sometimes"})
    assert Config.load(None, env={"STEADYHAND_STATE_URL": "redis://127.0.0.1:1/0"}).state_url is not None


def test_importing_steadyhand_or_using_memory_state_does_not_import_redis() -> None:
    code = (
        "import sys\nfrom steadyhand import Client\nClient(providers={})\n"
        "import steadyhand.policies\nprint('redis' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"
    assert SharedState().backend == "memory"


def test_two_clients_on_one_redis_share_a_breaker(private_redis: RedisServer) -> None:
    policy = resilient(fallbacks=["spare:s-1"], retry=Retry(attempts=1), breaker=Breaker(failures=2))
    down = QueueProvider(name="down").enqueue(*[ServerError("down", status_code=503)] * 2)
    spare = QueueProvider(name="spare").enqueue("a", "b", "c")
    config = Config(state_url=private_redis.url)
    one = Client(config, providers={"down": down, "spare": spare}, policies=[policy])
    two = Client(config, providers={"down": down, "spare": spare}, policies=[policy])
    try:
        one.chat("hi")
        one.chat("hi")  # two failures seen by client one: the breaker in Redis opens
        route = two.chat("hi").route  # client two has its own RedisState, and skips the target
        assert [(s.target, s.outcome) for s in route.steps] == [
            ("down:default", "skipped"),
            ("spare:s-1", "ok"),
        ]
        assert len(down.history) == 2 and one.state is not two.state
        private_redis.stop()
        assert (
            two.state.breaker("steadyhand.breaker:down:default", Breaker(failures=2)).admit(0.0) == "closed"
        )
        assert two.state.stats.unreachable >= 1  # Redis gone: this process's own breaker decides
    finally:
        one.close()
        two.close()


def test_a_window_expires_in_redis_and_an_abandoned_reservation_leaves_it(redis_server: RedisServer) -> None:
    import redis

    from steadyhand.policies.redis_state import RedisState

    state = RedisState(redis_server.url)
    key, limit = limit_key("p", uuid.uuid4().hex), RateLimit(rpm=6, window=10.0)  # 1 per 10 s
    caps = limit.caps("production")
    taken = state.reserve(key, "crashed", now=1000.0, window=10.0, caps=caps, need=0, traffic="production")
    assert taken.admitted  # ...and never settled nor released: its process died
    raw = redis.Redis.from_url(redis_server.url)
    ttls = [raw.pttl(f"{{{key}}}:{part}") for part in "zht"]
    assert all(0 < ttl <= 11_000 for ttl in ttls), ttls  # idle windows vanish from Redis
    refused = state.reserve(key, "next", now=1005.0, window=10.0, caps=caps, need=0, traffic="production")
    assert not refused.admitted and refused.wait == pytest.approx(5.0, abs=REDIS_CLOCK)
    assert state.reserve(
        key, "later", now=1010.5, window=10.0, caps=caps, need=0, traffic="production"
    ).admitted
    raw.close()
    state.close()


@pytest.mark.parametrize("offset", [1764670000.12345678, 1764670000.99996, 1700000000.00004999])
def test_the_shared_breaker_opens_for_exactly_its_cooldown(redis_server: RedisServer, offset: float) -> None:
    """Monotonic readings are moved to wall time (~1.7e9 s) for Redis; Lua's ``tostring`` keeps 14 digits,
    so an ``until`` stored through it came back up to 0.05 ms late and a breaker read exactly at the end of
    its cooldown still said open, for about half the offsets a process could start with."""
    from steadyhand.policies.redis_state import RedisBreaker, RedisState

    state = RedisState(redis_server.url)
    breaker = state.breaker(f"test.until:{uuid.uuid4().hex}", Breaker(failures=1, cooldown=5.0))
    assert isinstance(breaker, RedisBreaker)
    breaker._offset = offset  # the wall-minus-monotonic offset of a process, pinned
    breaker.record(ServerError("down", status_code=503), 0.0)
    assert breaker.state(4.999) == "open" and breaker.retry_in(0.0) == 5.0
    assert breaker.state(5.0) == "half_open"
    assert state.stats.unreachable == 0  # every answer came from the script, none from the local fallback
    state.close()
