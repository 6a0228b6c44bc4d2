"""Front-door validation and capability shaping: a wrong argument is an InvalidRequest naming the
field and the fix, raised before anything is sent; what a target cannot honour is refused or dropped
with a note on the span, never silently."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pydantic
import pytest

import steadyhand
from steadyhand import Client, Config, InvalidRequest, ModelAlias, ModelRequest, ProviderConfig
from steadyhand.errors import ProviderError
from steadyhand.providers import HTTPRequest, HTTPResponse, HTTPStream
from steadyhand.testing import QueueProvider
from steadyhand.timeouts import Timeouts
from steadyhand.tracing import SpanRecord
from steadyhand.types import Message


class Sink:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"temperature": "hot"}, "temperature", "number from 0 to 2"),
    ({"temperature": float("nan")}, "temperature", "number from 0 to 2"),
    ({"temperature": 3}, "temperature", "out of range"),
    ({"top_p": -0.1}, "top_p", "out of range"),
    ({"max_tokens": 0}, "max_tokens", "at least 1"),
    ({"max_tokens": -5}, "max_tokens", "at least 1"),
    ({"max_tokens": "100"}, "max_tokens", "whole number"),
    ({"max_tokens": True}, "max_tokens", "whole number"),
    ({"n": 0}, "n", "from 1 to 128"),
    ({"n": 1000}, "n", "from 1 to 128"),
    ({"stop": ["", "x"]}, "stop", "non-empty string"),
    ({"seed": 1.5}, "seed", "whole number"),
    ({"tool_choice": "auto"}, "tool_choice", "without tools"),
    ({"tools": [{"name": "a"}], "tool_choice": "b"}, "tool_choice", "names no tool"),
    ({"tools": [{"nme": "a"}]}, "tools[0].name", "field required"),
    ({"response_format": {"type": "jsn"}}, "response_format.type", "input should be"),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema", "needs json_schema"),
    ({"extra": {1: 2}}, "extra", "string keys"),
]


@pytest.mark.parametrize(("kwargs", "param", "message"), BAD, ids=[b[1] for b in BAD])
def test_a_wrong_argument_names_the_field_and_is_never_sent(
    kwargs: dict[str, Any], param: str, message: str
) -> None:
    fake = QueueProvider().enqueue("never")
    client = Client(Config(), providers={"q": fake})
    with pytest.raises(InvalidRequest) as info:
        client.chat("hi", **kwargs)
    assert info.value.param == param
    assert message in str(info.value).lower()
    assert not isinstance(info.value, pydantic.ValidationError)
    assert fake.history == []  # nothing reached the provider


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "usr", "content": "hi"}], "messages[0].role"),
        ([{"role": "user", "content": "hi"}, {"role": "user", "content": 42}], "messages[1].content"),
        ([], "messages"),
        (42, "messages"),
        (["hi"], "messages[0]"),
    ],
)
def test_a_bad_message_names_where_it_is(messages: Any, param: str) -> None:
    client = Client(Config(), providers={"q": QueueProvider()})
    with pytest.raises(InvalidRequest) as info:
        client.chat(messages)
    assert info.value.param is not None and info.value.param.startswith(param)
    if param.endswith("role"):
        assert "'system', 'user', 'assistant', 'tool'" in str(info.value)


def test_complete_checks_a_ready_request_by_the_same_rules() -> None:
    client = Client(Config(), providers={"q": QueueProvider()})
    request = ModelRequest.model_construct(
        model="default", messages=[Message(role="user", content="hi")], max_tokens=0, extra={}
    )
    with pytest.raises(InvalidRequest, match="max_tokens"):
        client.complete(request)


def test_openais_json_schema_wrapper_is_unwrapped_and_noted() -> None:
    fake = QueueProvider().enqueue("{}")
    sink = Sink()
    client = Client(Config(), providers={"q": fake}, tracer=sink)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    wrapper = {"name": "thing", "schema": schema, "strict": True}
    client.chat("hi", response_format={"type": "json_schema", "json_schema": wrapper})
    fmt = fake.history[0].response_format
    assert fmt is not None and (fmt.json_schema, fmt.name, fmt.strict) == (schema, "thing", True)
    assert "unwrapped" in sink.spans[0].attributes["steadyhand.adjusted"][0]


class Capture:
    """A transport that answers every request with a fixed OpenAI or Anthropic body and keeps what it saw."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = json.dumps(body).encode()
        self.sent: list[dict[str, Any]] = []

    def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        assert request.body is not None
        self.sent.append(json.loads(request.body))
        return HTTPResponse(200, {}, self.body)

    @contextmanager
    def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> Iterator[HTTPStream]:
        raise AssertionError("not streamed here")
        yield  # pragma: no cover

    def close(self) -> None:
        pass


OPENAI_BODY = {
    "id": "c1",
    "model": "m",
    "object": "chat.completion",
    "created": 1,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}
ANTHROPIC_BODY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


def _config(kind: str, **provider: Any) -> Config:
    return Config(
        providers={"p": ProviderConfig(kind=kind, api_key="k", base_url="http://127.0.0.1:9/v1", **provider)},
        models={"default": ModelAlias(target="p:claude-haiku-4-5-20251001")},
    )


def test_n_above_one_is_refused_where_the_target_returns_one_answer() -> None:
    transport = Capture(ANTHROPIC_BODY)
    client = Client(_config("anthropic"), transport=transport)
    with pytest.raises(InvalidRequest, match="n=2") as info:
        client.chat("hi", n=2)
    assert info.value.param == "n" and transport.sent == []


def test_a_seed_the_target_cannot_honour_is_dropped_with_a_note_on_the_span() -> None:
    transport, sink = Capture(OPENAI_BODY), Sink()
    client = Client(
        _config("openai_compatible", capabilities={"seed": False}), transport=transport, tracer=sink
    )
    client.chat("hi", seed=7, n=1)
    assert "seed" not in transport.sent[0] and "n" not in transport.sent[0]
    assert sink.spans[0].attributes["steadyhand.dropped"] == ["n", "seed"]
    client.chat("hi", seed=7)  # where the target honours it, it is sent
    seeded = Client(_config("openai"), transport=transport)
    seeded.chat("hi", seed=7)
    assert transport.sent[-1]["seed"] == 7


def test_extra_is_merged_into_the_target_formats_body_last() -> None:
    transport = Capture(OPENAI_BODY)
    client = Client(_config("openai"), transport=transport)
    client.chat("hi", max_tokens=5, extra={"logit_bias": {"50256": -100}, "max_tokens": 9})
    assert transport.sent[0]["logit_bias"] == {"50256": -100}
    assert transport.sent[0]["max_tokens"] == 9  # extra wins: it is the escape hatch


def test_the_injected_transport_carries_every_provider_built_from_config() -> None:
    transport = Capture(OPENAI_BODY)
    client = Client(_config("openai"), transport=transport)
    assert client.chat("hi").text == "ok" and len(transport.sent) == 1
    assert client.provider(client.resolve("default")).capabilities.seed is True


def _errors() -> list[type[steadyhand.SteadyhandError]]:
    return [
        getattr(steadyhand, name)
        for name in steadyhand.__all__
        if isinstance(getattr(steadyhand, name), type)
        and issubclass(getattr(steadyhand, name), steadyhand.SteadyhandError)
    ]


@pytest.mark.parametrize("cls", _errors(), ids=lambda c: c.__name__)
def test_every_error_pickles_with_its_fields(cls: type[steadyhand.SteadyhandError]) -> None:
    if issubclass(cls, steadyhand.ProviderHTTPError):
        error: Exception = cls(
            "m", status_code=429, retry_after=1.5, headers={"X-A": "b"}, code="c", provider="p"
        )
    elif cls is steadyhand.ProviderTimeout:
        error = cls("m", phase="stall", provider="p")
    elif cls is steadyhand.StreamInterrupted:
        error = cls("m", partial_text="half", provider="p")
    elif cls is InvalidRequest:
        error = cls("m", param="temperature")
    elif issubclass(cls, ProviderError):
        error = cls("m", provider="p", model="x")
    else:
        error = cls("m")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls and str(copy) == str(error) and copy.__dict__ == error.__dict__
