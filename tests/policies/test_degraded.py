"""Degraded mode: when every option is exhausted a feature gets its degraded answer, marked and traced,
instead of an error; a refused request is still raised. Sync, async and streamed, and against the
simulator with the issue's table."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from steadyhand import AsyncClient, Client, Config, ProviderConfig, ServerError
from steadyhand._config import ModelAlias
from steadyhand.errors import BadRequest, ContentFiltered, DeadlineExceeded, ProviderError, StreamInterrupted
from steadyhand.policies import Retry, cache, degraded, degrades, resilient
from steadyhand.sim import SimServer
from steadyhand.testing import QueueProvider
from steadyhand.tracing import SpanRecord
from steadyhand.types import Chunk, ModelRequest

BUSY = "Our assistant is busy right now; please try again in a minute."


class Sink:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


def _down(n: int = 4) -> QueueProvider:
    return QueueProvider(name="primary").enqueue(*[ServerError("down", status_code=503)] * n)


def _config(**alias: object) -> Config:
    return Config(
        providers={"sim": ProviderConfig(kind="sim")},
        models={"support": ModelAlias(target="primary:p-1", **alias)},
        cache_url="memory://",
    )


def test_a_static_answer_stands_in_marked_traced_and_unbilled() -> None:
    sink = Sink()
    client = Client(
        _config(degraded=BUSY, retry={"attempts": 2, "base": 0, "cap": 0}),
        providers={"primary": _down()},
        tracer=sink,
    )
    response = client.chat("hi", model="support")
    assert (response.text, response.degraded, response.model, response.provider) == (
        BUSY,
        True,
        "degraded",
        "steadyhand",
    )
    assert response.route.degraded and [s.status for s in response.route.attempts] == [503, 503]
    llm = sink.spans[-1]
    assert llm.status == "ok" and llm.attributes["steadyhand.degraded"]["source"] == "static"
    assert llm.attributes["steadyhand.degraded"]["error_type"] == "DeadlineExceeded"
    assert llm.attributes["steadyhand.route"]["degraded"] is True
    assert (llm.input_tokens, llm.output_tokens, llm.cost_usd) == (0, 0, 0.0)
    assert "degraded" not in response.model_dump()


async def test_async_and_streams_degrade_before_their_first_chunk() -> None:
    config = _config(degraded=BUSY, retry={"attempts": 1})
    client = AsyncClient(config, providers={"primary": _down()})
    assert (await client.chat("hi", model="support")).degraded
    async with client.stream("hi", model="support") as stream:
        assert "".join([t async for t in stream.text_stream()]) == BUSY
    assert stream.response.degraded and stream.response.route.degraded
    sync = Client(config, providers={"primary": _down()})
    with sync.stream("hi", model="support") as sync_stream:
        assert "".join(sync_stream.text_stream()) == BUSY
    assert sync_stream.response.degraded


def test_a_refused_request_is_raised_not_degraded() -> None:
    primary = QueueProvider(name="primary").enqueue(
        BadRequest("bad field", status_code=400), ContentFiltered("no", status_code=400)
    )
    client = Client(_config(degraded=BUSY, retry={"attempts": 3}), providers={"primary": primary})
    with pytest.raises(BadRequest):
        client.chat("hi", model="support")
    with pytest.raises(ContentFiltered):
        client.chat("hi", model="support")
    assert len(primary.history) == 2  # neither was retried
    assert degrades(DeadlineExceeded("x", reason="options")) and not degrades(
        BadRequest("x", status_code=422)
    )


def test_a_callable_answer_in_code_sees_the_request_and_the_error() -> None:
    seen: list[tuple[str, str]] = []

    def fallback_answer(request: ModelRequest, error: ProviderError) -> str:
        seen.append((request.messages[-1].text, type(error).__name__))
        return f"later, please ({type(error).__name__})"

    policies = [resilient(retry=Retry(attempts=1)), degraded(fallback_answer)]
    client = Client(providers={"primary": _down(1)}, policies=policies)
    response = client.chat("where is my order?")
    assert response.text == "later, please (DeadlineExceeded)" and response.degraded
    assert seen == [("where is my order?", "DeadlineExceeded")]


async def test_an_async_callable_under_the_async_client() -> None:
    async def answer(request: ModelRequest, error: ProviderError) -> str:
        return "async degraded"

    client = AsyncClient(providers={"primary": _down(1)}, policies=[degraded(answer)])
    assert (await client.chat("hi")).text == "async degraded"
    sync = Client(providers={"primary": _down(1)}, policies=[degraded(answer)])
    with pytest.raises(TypeError, match="AsyncClient"):
        sync.chat("hi")


def test_the_last_cached_answer_even_past_its_ttl_then_the_text() -> None:
    primary = QueueProvider(name="primary").enqueue(
        "the real answer", *[ServerError("down", status_code=503)] * 3
    )
    table = {"cached": True, "text": BUSY}
    client = Client(
        _config(cache={"ttl": 0.01}, degraded=table, retry={"attempts": 1}), providers={"primary": primary}
    )
    assert not client.chat("hi", model="support").degraded
    time.sleep(0.05)  # past the ttl: a lookup would miss now
    stale = client.chat("hi", model="support")
    assert (stale.text, stale.degraded, stale.route.cache_hit) == ("the real answer", True, False)
    other = client.chat("something never asked", model="support")
    assert (other.text, other.degraded) == (BUSY, True)
    assert len(primary.history) == 3


def test_from_cache_in_code_and_without_an_answer_the_error_stands() -> None:
    primary = QueueProvider(name="primary").enqueue(
        "kept", ServerError("down", status_code=500), ServerError("down", status_code=500)
    )
    policies = [cache(ttl=0.01, keep_stale=60, url="memory://"), degraded(from_cache=True)]
    client = Client(providers={"primary": primary}, policies=policies)
    client.chat("hi")
    time.sleep(0.05)
    assert client.chat("hi").degraded
    with pytest.raises(ServerError):  # nothing cached for this one, and no text: the error stands
        client.chat("new question")


def test_a_stream_cut_after_content_is_not_degraded() -> None:
    class Cuts(QueueProvider):
        def stream(self, request: ModelRequest, *, ctx: object = None) -> Iterator[Chunk]:
            yield Chunk(text="half an ")
            raise StreamInterrupted("cut", partial_text="half an ")

    client = Client(providers={"primary": Cuts(name="primary")}, policies=[degraded(BUSY)])
    with client.stream("hi") as stream, pytest.raises(StreamInterrupted):
        for _ in stream:
            pass


def test_a_degraded_table_that_cannot_work_is_rejected_at_load(tmp_path: Path) -> None:
    from steadyhand import ConfigurationError

    base = '[providers.sim]\nkind = "sim"\n\n[models.support]\ntarget = "sim:sim-basic"\n'
    path = tmp_path / "steadyhand.toml"
    path.write_text(base + "degraded = { cached = true }\n")
    with pytest.raises(ConfigurationError, match=r"models.support.degraded .* has no cache"):
        Config.load(path, env={})
    path.write_text(base + "degraded = { max_age = 60 }\n")
    with pytest.raises(ConfigurationError, match="neither `text` nor `cached = true`"):
        Config.load(path, env={})


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


def test_against_the_simulator_every_option_down(tmp_path: Path, sim: SimServer) -> None:
    toml = f"""
[providers.sim]
kind = "sim"
base_url = "{sim.base_url}"

[models.support]
target = "sim:sim-500:primary"
fallbacks = ["sim:sim-503:backup"]
deadline = 8.0
retry = {{ attempts = 2, base = 0.01, cap = 0.5 }}
breaker = {{ failures = 1, window = 30.0, cooldown = 15.0 }}
cache = {{ ttl = 3600 }}
degraded = "{BUSY}"
"""
    (tmp_path / "steadyhand.toml").write_text(toml)
    sim.clear_requests()
    with Client(Config.load(tmp_path / "steadyhand.toml", env={})) as client:
        first = client.chat("hi", model="support")
        second = client.chat("hi", model="support")  # both breakers open now: no request at all
        with client.stream("hi", model="support") as stream:
            streamed = "".join(stream.text_stream())
    assert first.text == second.text == streamed == BUSY and first.degraded and second.degraded
    assert [s.outcome for s in second.route.steps] == ["skipped", "skipped"]
    models = [r.body["model"] for r in sim.requests if isinstance(r.body, dict)]
    assert models == [
        "sim-500:primary",
        "sim-503:backup",
    ]  # Retry-After 1 s > cap: no retry, and never cached
