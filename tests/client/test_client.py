"""Client and AsyncClient over test doubles: inputs, streams, spans, and sync/async parity."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from steadyhand import AsyncClient, Client, Config, Message, ModelRequest, RateLimited
from steadyhand.testing import FunctionProvider, QueueProvider, text_response
from steadyhand.tracing.context import SpanContext, reset_span, use_span
from steadyhand.tracing.records import SpanRecord
from steadyhand.types import Usage


class Sink:
    def __init__(self, *, fail: bool = False) -> None:
        self.spans: list[SpanRecord] = []
        self.fail = fail

    def record(self, span: SpanRecord) -> None:
        if self.fail:
            raise RuntimeError("sink down")
        self.spans.append(span)


def echo(request: ModelRequest) -> str:
    return f"{request.model}: {request.messages[-1].text} t={request.temperature}"


def test_messages_accept_strings_dicts_and_objects() -> None:
    fake = FunctionProvider(echo)
    client = Client(Config(), providers={"fn": fake})
    assert client.chat("hi").text == "default: hi t=None"
    assert (
        client.chat({"role": "user", "content": "d"}, model="fn:m-1", temperature=0.5).text == "m-1: d t=0.5"
    )
    client.chat([Message(role="system", content="s"), {"role": "user", "content": "u"}], stop="END", seed=3)
    last = fake.history[-1]
    assert [m.role for m in last.messages] == ["system", "user"] and last.stop == ["END"] and last.seed == 3


def test_queue_provider_answers_in_order_raises_and_runs_dry() -> None:
    error = RateLimited("slow down", status_code=429, retry_after=1.0)
    fake = QueueProvider().enqueue("one", text_response("two"), error)
    client = Client(Config(), providers={"q": fake})
    assert [client.chat("a").text, client.chat("b").text] == ["one", "two"]
    with pytest.raises(RateLimited):
        client.chat("c")
    with pytest.raises(AssertionError, match="empty"):
        client.chat("d")
    assert [r.messages[0].text for r in fake.history] == ["a", "b", "c", "d"]


def test_stream_yields_chunks_then_the_assembled_response() -> None:
    fake = FunctionProvider(
        lambda r: text_response("Hello there, world", usage=Usage(input_tokens=3, output_tokens=4))
    )
    client = Client(Config(), providers={"fn": fake})
    with client.stream("hi") as stream:
        texts = list(stream.text_stream())
    assert "".join(texts) == "Hello there, world" and len(texts) == 3
    assert stream.response.text == "Hello there, world"
    assert stream.response.usage.output_tokens == 4
    assert stream.first_token_time is not None and stream.first_token_time >= stream.start_time


def test_spans_record_calls_errors_and_parents() -> None:
    sink = Sink()
    fake = QueueProvider().enqueue(
        text_response("ok", usage=Usage(input_tokens=2, output_tokens=1, raw={"x": 1}))
    )
    fake.enqueue(RateLimited("busy", status_code=429))
    client = Client(Config(), providers={"q": fake}, tracer=sink)
    token = use_span(SpanContext(trace_id="t" * 32, span_id="s" * 16, project="proj"))
    try:
        client.chat("hi", tags={"user": "u1"}, max_tokens=5)
    finally:
        reset_span(token)
    with pytest.raises(RateLimited):
        client.chat("again")
    ok, failed = sink.spans
    assert (ok.kind, ok.trace_id, ok.parent_id, ok.project, ok.status) == (
        "llm",
        "t" * 32,
        "s" * 16,
        "proj",
        "ok",
    )
    assert (ok.model_alias, ok.provider, ok.model, ok.response_model) == (
        "default",
        "q",
        "default",
        "test-model",
    )
    assert ok.request == {
        "model": "default",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "extra": {},
    }
    assert (ok.input_tokens, ok.output_tokens, ok.usage_raw, ok.tags) == (2, 1, {"x": 1}, {"user": "u1"})
    assert ok.response is not None and ok.response["choices"][0]["message"]["content"] == "ok"
    assert "raw" not in ok.response["usage"]  # stored once, as usage_raw
    assert ok.response["usage"]["input_tokens"] == 2
    assert ok.end_time is not None and ok.end_time >= ok.start_time
    assert (failed.status, failed.error_type, failed.parent_id) == ("error", "RateLimited", None)
    assert failed.trace_id != ok.trace_id


def test_a_failing_tracer_never_breaks_the_call() -> None:
    client = Client(Config(), providers={"q": QueueProvider().enqueue("fine")}, tracer=Sink(fail=True))
    assert client.chat("hi").text == "fine"


def test_stream_span_has_first_token_time() -> None:
    sink = Sink()
    client = Client(Config(), providers={"fn": FunctionProvider(lambda r: "a b c")}, tracer=sink)
    with client.stream("hi") as stream:
        stream.until_done()
    (span,) = sink.spans
    assert span.status == "ok" and span.first_token_time is not None and span.response is not None


def _public(cls: type) -> dict[str, inspect.Signature]:
    names = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
    out = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") and name not in names and name not in names.values():
            continue
        if callable(member):
            out[names.get(name, name)] = inspect.signature(member)
    return out


def test_client_signature_parity() -> None:
    sync, async_ = _public(Client), _public(AsyncClient)
    assert sync.keys() == async_.keys()
    for name, signature in sync.items():
        other = async_[name]
        assert list(signature.parameters) == list(other.parameters), name
        for param in signature.parameters.values():
            twin = other.parameters[param.name]
            assert (param.kind, param.default, str(param.annotation)) == (
                twin.kind, twin.default, str(twin.annotation),
            ), (name, param.name)  # fmt: skip
    assert inspect.iscoroutinefunction(AsyncClient.chat)


async def test_behaviour_parity() -> None:
    calls: list[dict[str, Any]] = [
        {"messages": "hi"},
        {"messages": [{"role": "user", "content": "x"}], "model": "fn:m-2", "temperature": 0.1},
    ]
    sync_client = Client(Config(), providers={"fn": FunctionProvider(echo)})
    async with AsyncClient(Config(), providers={"fn": FunctionProvider(echo)}) as async_client:
        for call in calls:
            assert sync_client.chat(**call) == await async_client.chat(**call)
            with sync_client.stream(**call) as s:
                sync_chunks = list(s)
            async with async_client.stream(**call) as a:
                async_chunks = [c async for c in a]
            assert sync_chunks == async_chunks and s.response == a.response


async def test_async_function_provider() -> None:
    async def answer(request: ModelRequest) -> str:
        return "async " + request.messages[0].text

    async with AsyncClient(Config(), providers={"fn": FunctionProvider(answer)}) as client:
        assert (await client.chat("hi")).text == "async hi"


def test_async_function_answers_a_sync_client_outside_an_event_loop() -> None:
    async def answer(request: ModelRequest) -> str:
        return "async " + request.messages[0].text

    assert Client(Config(), providers={"fn": FunctionProvider(answer)}).chat("yo").text == "async yo"
