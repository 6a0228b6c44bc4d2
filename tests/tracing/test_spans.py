"""The spans API: nesting, decorators, error capture, context across asyncio tasks."""

from __future__ import annotations

import asyncio

import pytest

from steadyhand import Client, Config
from steadyhand.testing import QueueProvider
from steadyhand.tracing import SpanRecord, Tracer, current_span

from ._stores import MemoryStore


def _by_name(store: MemoryStore) -> dict[str, SpanRecord]:
    return {s.name: s for s in store.spans.values()}


def test_nested_spans_form_one_trace(tracer: Tracer, store: MemoryStore) -> None:
    with tracer.span("request", tags={"user": "u1"}) as root:
        root.set_attribute("route", "/chat")
        with tracer.span("retrieve", kind="tool") as child:
            child.set_tag("source", "docs")
            assert current_span() is not None and current_span().span_id == child.span_id  # type: ignore[union-attr]
        assert current_span().span_id == root.span_id  # type: ignore[union-attr]
    assert current_span() is None
    assert tracer.flush(5)
    spans = _by_name(store)
    assert spans["request"].parent_id is None
    assert spans["retrieve"].parent_id == spans["request"].span_id
    assert spans["retrieve"].trace_id == spans["request"].trace_id
    assert spans["request"].tags == {"user": "u1"} and spans["request"].attributes == {"route": "/chat"}
    assert spans["retrieve"].kind == "tool" and spans["retrieve"].tags == {"source": "docs"}
    request_end, retrieve_end = spans["request"].end_time, spans["retrieve"].end_time
    assert request_end is not None and retrieve_end is not None and request_end >= retrieve_end


def test_a_client_call_inside_a_span_is_recorded_as_its_child(tracer: Tracer, store: MemoryStore) -> None:
    """The real Client links its llm span to the span open around the call (no ids passed by hand)."""
    fake = QueueProvider().enqueue("first", "second")
    with Client(Config(), providers={"q": fake}, tracer=tracer) as client:
        with tracer.span("handle") as outer:
            client.chat("hi", model="q:m")
        client.chat("outside any span", model="q:m")
    assert tracer.flush(5)
    inside, outside = sorted(
        (s for s in store.spans.values() if s.kind == "llm"), key=lambda s: s.start_time or 0.0
    )
    assert (inside.parent_id, inside.trace_id) == (outer.span_id, outer.trace_id)
    assert outside.parent_id is None and outside.trace_id != outer.trace_id


def test_error_is_captured_and_reraised(tracer: Tracer, store: MemoryStore) -> None:
    with pytest.raises(KeyError), tracer.span("boom"):
        raise KeyError("missing thing")
    assert tracer.flush(5)
    s = _by_name(store)["boom"]
    assert (s.status, s.error_type) == ("error", "KeyError")
    assert "missing thing" in (s.error_message or "")


def test_sync_decorator(tracer: Tracer, store: MemoryStore) -> None:
    @tracer.trace("add")
    def add(a: int, b: int) -> int:
        return a + b

    @tracer.trace()
    def fails() -> None:
        raise ValueError("nope")

    assert add(2, 3) == 5
    with pytest.raises(ValueError):
        fails()
    assert tracer.flush(5)
    spans = _by_name(store)
    assert spans["add"].status == "ok"
    assert spans["test_sync_decorator.<locals>.fails"].status == "error"


async def test_async_decorator_and_task_propagation(tracer: Tracer, store: MemoryStore) -> None:
    @tracer.trace("step", kind="flow_step")
    async def step(i: int) -> int:
        await asyncio.sleep(0.001 * i)
        return i

    async with tracer.span("pipeline") as root:
        results = await asyncio.gather(*(asyncio.create_task(step(i)) for i in range(3)))
    assert results == [0, 1, 2]
    assert tracer.flush(5)
    steps = [s for s in store.spans.values() if s.name == "step"]
    assert len(steps) == 3
    assert {s.parent_id for s in steps} == {root.span_id}
    assert {s.trace_id for s in steps} == {root.trace_id}
    assert all(s.kind == "flow_step" for s in steps)


async def test_async_error_capture(tracer: Tracer, store: MemoryStore) -> None:
    @tracer.trace("async-boom")
    async def boom() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("bad")

    with pytest.raises(RuntimeError):
        await boom()
    assert tracer.flush(5)
    assert _by_name(store)["async-boom"].error_type == "RuntimeError"


async def test_concurrent_requests_are_separate_traces(tracer: Tracer, store: MemoryStore) -> None:
    async def request(i: int) -> None:
        async with tracer.span(f"req{i}"):
            await asyncio.sleep(0.001)
            with tracer.span(f"inner{i}"):
                await asyncio.sleep(0.001)

    await asyncio.gather(*(request(i) for i in range(5)))
    assert tracer.flush(5)
    spans = _by_name(store)
    for i in range(5):
        assert spans[f"inner{i}"].parent_id == spans[f"req{i}"].span_id
    assert len({spans[f"req{i}"].trace_id for i in range(5)}) == 5
