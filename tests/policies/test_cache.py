"""The exact cache through the client: hits without a request, never errors or cut answers, streams
replayed as streams, ``cache=False``, fallbacks tagged, hits not billed; sync, async and streamed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from steadyhand import AsyncClient, Client, Config, ProviderConfig, ServerError
from steadyhand._config import ModelAlias
from steadyhand.policies import MemoryCacheStore, Retry, Route, cache, open_cache_store, resilient
from steadyhand.policies.cache_entry import decode
from steadyhand.sim import Respond, Rule, Scenario, SimServer
from steadyhand.testing import QueueProvider, text_response
from steadyhand.tracing import SpanRecord
from steadyhand.types import Message, ModelRequest, Usage

USAGE = Usage(input_tokens=10, output_tokens=5)


class Sink:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)

    @property
    def llm(self) -> list[SpanRecord]:
        return [s for s in self.spans if s.kind == "llm"]


def _config(**alias: object) -> Config:
    alias.setdefault("cache", {"ttl": 60})
    return Config(
        providers={"sim": ProviderConfig(kind="sim")},
        models={
            "support": ModelAlias(target="primary:p-1", **alias),
            "spare": ModelAlias(target="backup:b-1"),
        },
        cache_url="memory://",
    )


def _answers(n: int) -> QueueProvider:
    return QueueProvider(name="primary").enqueue(
        *[text_response(f"answer {i}", usage=USAGE) for i in range(n)]
    )


def test_a_repeated_request_is_answered_from_the_cache_and_not_billed() -> None:
    primary, sink = _answers(2), Sink()
    client = Client(_config(), providers={"primary": primary}, tracer=sink)
    first = client.chat("hi", model="support")
    again = client.chat("hi", model="support")
    assert (first.text, again.text) == ("answer 0", "answer 0") and len(primary.history) == 1
    assert isinstance(first.route, Route) and (first.route.cache, first.route.cache_hit) == ("miss", False)
    assert isinstance(again.route, Route) and (again.route.cache, again.route.cache_hit) == ("hit", True)
    assert again.route.attempts == [] and again.route.answered_by == "primary:p-1"
    miss, hit = sink.llm
    assert miss.attributes["steadyhand.cache"] == "miss" and hit.attributes["steadyhand.cache"] == "hit"
    assert (miss.input_tokens, miss.output_tokens) == (10, 5)
    assert (hit.input_tokens, hit.output_tokens, hit.cost_usd) == (0, 0, 0.0)
    assert hit.attributes["steadyhand.route"]["cache_hit"] is True
    assert client.chat("hi again", model="support").text == "answer 1"  # another request: a miss


def test_cache_false_neither_reads_nor_fills_the_cache() -> None:
    primary = _answers(3)
    client = Client(_config(), providers={"primary": primary})
    assert client.chat("hi", model="support", cache=False).text == "answer 0"
    assert client.chat("hi", model="support").text == "answer 1"  # nothing was stored by the first
    off = client.chat("hi", model="support", cache=False)
    assert off.text == "answer 2" and isinstance(off.route, Route) and off.route.cache == "off"
    with client.stream("hi", model="support", cache=False) as stream:
        primary.enqueue("streamed, uncached")
        assert "".join(stream.text_stream()) == "streamed, uncached"
    request = client.chat("hi", model="support").route
    assert isinstance(request, Route) and request.cache_hit and len(primary.history) == 4


async def test_cache_false_and_hits_async() -> None:
    primary = _answers(2)
    client = AsyncClient(_config(), providers={"primary": primary})
    assert (await client.chat("hi", model="support", cache=False)).text == "answer 0"
    assert (await client.chat("hi", model="support")).text == "answer 1"
    hit = await client.chat("hi", model="support")
    assert hit.text == "answer 1" and hit.route.cache_hit and len(primary.history) == 2
    async with client.stream("hi", model="support") as stream:
        assert "".join([t async for t in stream.text_stream()]) == "answer 1"
    assert stream.response.route.cache_hit and len(primary.history) == 2
    ready = ModelRequest(model="support", messages=[Message(role="user", content="hi")])
    primary.enqueue("ready, uncached", "streamed ready, uncached")
    assert (await client.complete(ready, cache=False)).text == "ready, uncached"
    async with client.complete_stream(ready, cache=False) as stream:
        assert "".join([t async for t in stream.text_stream()]) == "streamed ready, uncached"
    assert (await client.complete(ready)).text == "answer 1" and len(primary.history) == 4


def test_the_ready_request_entry_points_take_cache_false() -> None:
    primary = _answers(1).enqueue("uncached", "streamed, uncached")
    client = Client(_config(), providers={"primary": primary})
    ready = ModelRequest(model="support", messages=[Message(role="user", content="hi")])
    assert client.complete(ready).text == client.chat("hi", model="support").text == "answer 0"
    assert client.complete(ready, cache=False).text == "uncached"
    with client.complete_stream(ready, cache=False) as stream:
        assert "".join(stream.text_stream()) == "streamed, uncached"
    with client.complete_stream(ready) as stream:
        assert "".join(stream.text_stream()) == "answer 0"
    assert len(primary.history) == 3


def test_errors_cut_answers_and_sampled_requests_are_not_stored() -> None:
    primary = QueueProvider(name="primary").enqueue(
        ServerError("down", status_code=500),
        text_response("cut off", finish_reason="length"),
        text_response("filtered", finish_reason="content_filter"),
        "complete",
        "sampled 1",
        "sampled 2",
    )
    client = Client(_config(), providers={"primary": primary})
    with pytest.raises(ServerError):
        client.chat("hi", model="support")
    assert client.chat("hi", model="support").text == "cut off"
    assert client.chat("hi", model="support").text == "filtered"
    assert client.chat("hi", model="support").text == "complete"
    assert client.chat("hi", model="support").text == "complete"  # the first one kept
    one = client.chat("hi", model="support", temperature=0.7)
    two = client.chat("hi", model="support", temperature=0.7)
    assert (one.text, two.text) == ("sampled 1", "sampled 2") and one.route.cache == "sampled"
    assert len(primary.history) == 6


def test_sampled_requests_are_cached_when_the_alias_says_so() -> None:
    primary = _answers(1)
    client = Client(_config(cache={"ttl": 60, "sampled": True}), providers={"primary": primary})
    texts = {client.chat("hi", model="support", temperature=0.9).text for _ in range(3)}
    assert texts == {"answer 0"} and len(primary.history) == 1


def test_a_fallbacks_answer_is_stored_under_the_request_tagged_with_its_model() -> None:
    primary = QueueProvider(name="primary").enqueue(ServerError("down", status_code=503))
    backup = QueueProvider(name="backup").enqueue(text_response("from backup", model="b-1", usage=USAGE))
    store = MemoryCacheStore()
    config = _config(fallbacks=("spare",), retry={"attempts": 1})
    client = Client(config, providers={"primary": primary, "backup": backup}, tracer=(sink := Sink()))
    client.state.get("steadyhand.cache.store:memory://", lambda: store)
    first = client.chat("hi", model="support")
    assert first.route.answered_by == "backup:b-1" and first.route.cache == "miss"
    hit = client.chat("hi", model="support")
    assert (hit.text, hit.model, hit.route.answered_by) == ("from backup", "b-1", "backup:b-1")
    assert hit.route.cache_hit and len(primary.history) == 1 and len(backup.history) == 1
    (entry,) = [decode(store.get(key)) for key in list(store._items)]
    assert entry is not None and entry.answered_by == "backup:b-1"
    assert (sink.llm[-1].provider, sink.llm[-1].model) == ("backup", "b-1")


def test_a_streamed_answer_is_replayed_as_a_stream_and_serves_complete_calls() -> None:
    primary = QueueProvider(name="primary").enqueue("one two three")
    client = Client(_config(), providers={"primary": primary})
    with client.stream("hi", model="support") as stream:
        first = [c.text for c in stream if c.text]
    with client.stream("hi", model="support") as stream:
        replayed = [c.text for c in stream if c.text]
    assert first == replayed == ["one ", "two ", "three"]  # the chunks as they were streamed
    assert stream.response.route.cache_hit and stream.response.text == "one two three"
    assert client.chat("hi", model="support").text == "one two three" and len(primary.history) == 1


def test_a_complete_answer_serves_a_stream_and_an_unfinished_stream_is_not_stored() -> None:
    primary = QueueProvider(name="primary").enqueue("whole answer", "first of two", "second")
    client = Client(_config(), providers={"primary": primary})
    client.chat("a", model="support")
    with client.stream("a", model="support") as stream:
        chunks = list(stream)
    assert "".join(c.text for c in chunks) == "whole answer" and chunks[-2].finish_reason == "stop"
    with client.stream("b", model="support") as stream:
        next(iter(stream))  # the caller stops reading after one chunk
    assert client.chat("b", model="support").text == "second" and len(primary.history) == 3


def test_a_cache_policy_in_code_and_a_store_that_fails(tmp_path: Path) -> None:
    primary = _answers(3)
    bad = open_cache_store("postgresql://nobody@127.0.0.1:1/none")  # nothing listens there
    client = Client(providers={"primary": primary}, policies=[cache(ttl=30, store=bad)])
    assert client.chat("hi").text == "answer 0"  # a miss, not an error
    bad.flush()  # type: ignore[attr-defined]  # the queued write fails: counted and dropped
    assert client.chat("hi").text == "answer 1"
    assert bad.errors >= 2
    sqlite = open_cache_store(f"sqlite:///{tmp_path / 'cache.db'}")
    client = Client(providers={"primary": primary}, policies=[cache(ttl=30, store=sqlite)])
    assert [client.chat("hi").text for _ in range(2)] == ["answer 2", "answer 2"] and sqlite.errors == 0


def test_the_stores_expire_entries_and_read_garbage_as_a_miss(tmp_path: Path) -> None:
    import time

    for store in (MemoryCacheStore(), open_cache_store(f"sqlite:///{tmp_path / 'c.db'}")):
        store.set("k", b"value", 60)
        store.set("gone", b"old", 0.001)
        time.sleep(0.01)
        assert store.get("k") == b"value" and store.get("gone") is None and store.get("never") is None
        store.set("k", b"new", 60)
        assert store.get("k") == b"new"
        store.close()
    assert decode(b"not json") is None and decode(b'{"response": 1}') is None


@pytest.fixture(scope="module")
def numbered() -> Iterator[SimServer]:
    """A simulator whose answers differ on every request (as a sampled model's would)."""
    rule = Rule(respond=Respond(template="answer number {{ request_number }}"))
    with SimServer(Scenario(rules=[rule])) as server:
        yield server


def _sim_config(sim: SimServer, **cache_table: object) -> Config:
    return Config(
        providers={"sim": ProviderConfig(kind="sim", base_url=sim.base_url)},
        models={"support": ModelAlias(target="sim:sim-basic", cache={"ttl": 60, **cache_table})},
    )


def test_repeated_sampled_calls_against_the_simulator_are_distinct_unless_cached_on_purpose(
    numbered: SimServer,
) -> None:
    numbered.clear_requests()
    with Client(_sim_config(numbered)) as client:
        sampled = {client.chat("hi", model="support", temperature=0.8).text for _ in range(3)}
        greedy = {client.chat("hi", model="support", temperature=0).text for _ in range(3)}
    assert len(sampled) == 3 and len(greedy) == 1 and len(numbered.requests) == 4
    numbered.clear_requests()
    with Client(_sim_config(numbered, sampled=True)) as client:
        on_purpose = {client.chat("hello", model="support", temperature=0.8).text for _ in range(3)}
    assert len(on_purpose) == 1 and len(numbered.requests) == 1


async def test_streams_against_the_simulator_replay_async(numbered: SimServer) -> None:
    numbered.clear_requests()
    async with AsyncClient(_sim_config(numbered)) as client:
        texts = []
        for _ in range(2):
            async with client.stream("stream me", model="support") as stream:
                texts.append("".join([t async for t in stream.text_stream()]))
        complete = await client.chat("stream me", model="support")
    assert texts[0] == texts[1] == complete.text and len(numbered.requests) == 1
    assert complete.route.cache_hit


def test_resilient_in_code_outside_the_cache_still_sees_hits() -> None:
    primary = _answers(1)
    config = _config()
    policy = resilient(retry=Retry(attempts=2, base=0, cap=0), aliases={"support"})
    client = Client(config, providers={"primary": primary}, policies=[policy])
    assert client.chat("x", model="support").text == client.chat("x", model="support").text
    assert len(primary.history) == 1


class _Bytes:
    """A shared state's byte store (as the Redis-backed state has), failing on demand."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[bytes, float | None]] = {}
        self.down = False

    def get_bytes(self, key: str) -> bytes | None:
        if self.down:
            raise ConnectionError("redis is down")
        item = self.items.get(key)
        return None if item is None else item[0]

    def set_bytes(self, key: str, value: bytes, ttl: float | None = None) -> None:
        if self.down:
            raise ConnectionError("redis is down")
        self.items[key] = (value, ttl)

    async def aget_bytes(self, key: str) -> bytes | None:
        return self.get_bytes(key)

    async def aset_bytes(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self.set_bytes(key, value, ttl)


async def test_the_cache_over_a_shared_states_byte_store() -> None:
    from steadyhand.policies.cache_store import ByteState, StateCacheStore

    state = _Bytes()
    assert isinstance(state, ByteState)
    store = StateCacheStore(state)
    primary = _answers(2)
    client = Client(providers={"primary": primary}, policies=[cache(ttl=30, store=store)])
    assert [client.chat("hi").text for _ in range(2)] == ["answer 0", "answer 0"]
    ((key, (_, ttl)),) = state.items.items()
    assert key.startswith("steadyhand:cache:") and ttl == 30
    assert await store.aget(key.removeprefix("steadyhand:cache:")) is not None
    state.down = True
    assert client.chat("hi").text == "answer 1" and store.errors == 2  # a miss and a skipped write


def test_closing_the_client_stores_what_is_queued_and_closes_its_cache(tmp_path: Path) -> None:
    from steadyhand.store._cache import SqlCacheStore

    primary = _answers(1)
    config = _config().model_copy(update={"cache_url": f"sqlite:///{tmp_path / 'c.db'}"})
    client = Client(config, providers={"primary": primary})
    client.chat("hi", model="support")
    (store,) = [s for s in client.state._items.values() if isinstance(s, SqlCacheStore)]
    client.close()  # the client opened the state, so it closes it, and the store with it
    assert store._closed and store._raw == []
    assert store._writer is None or not store._writer.is_alive()  # the writer thread has ended
    again = Client(config, providers={"primary": QueueProvider(name="primary")})  # nothing to answer with
    assert again.chat("hi", model="support").route.cache_hit  # the queued write reached the file
    again.close()


def test_an_entry_kept_in_memory_holds_no_more_than_its_bytes() -> None:
    """orjson's output keeps the buffer it wrote into (4 kB for a 0.9 kB entry): a memory cache that
    kept it as is held 4 kB per call, a fresh page faulted in per cached call."""
    import tracemalloc

    import orjson

    from steadyhand.policies import SharedState

    size = 0
    for store in (MemoryCacheStore(), SharedState()):
        tracemalloc.start()
        for i in range(200):
            value = orjson.dumps({"text": f"answer {i} " + "x" * 800})
            size += len(value)
            if isinstance(store, MemoryCacheStore):
                store.set(f"k{i}", value, 60)
            else:
                store.set_bytes(f"k{i}", value, 60)
        del value
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert held < 1.5 * size, f"{type(store).__name__} holds {held} bytes for {size}"
        got = store.get("k7") if isinstance(store, MemoryCacheStore) else store.get_bytes("k7")
        assert got == orjson.dumps({"text": "answer 7 " + "x" * 800})
        size = 0
