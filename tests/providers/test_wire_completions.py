"""Legacy completions behind the chat call: prompt template, parsing, streaming."""

from __future__ import annotations

import json

import pytest

from steadyhand.errors import ConfigurationError, ContextWindowExceeded, StreamInterrupted
from steadyhand.providers._common import assemble
from steadyhand.providers.openai_completions import OpenAICompletions, render_prompt
from steadyhand.types import ImagePart, Message, ModelRequest, Tool

from .wire_fixtures import CAPS, ok, sse


def wire() -> OpenAICompletions:
    return OpenAICompletions(
        base_url="http://127.0.0.1:8080/v1", api_key=None, provider_name="local", capabilities=CAPS
    )


CHAT = [
    Message(role="system", content="You are terse."),
    Message(role="user", content="Hi"),
    Message(role="assistant", content="Hello."),
    Message(role="user", content="2+2?"),
]


def test_prompt_template() -> None:
    assert render_prompt(CHAT) == "You are terse.\nUser: Hi\nAssistant: Hello.\nUser: 2+2?\nAssistant:"
    prefill = [Message(role="user", content="Count"), Message(role="assistant", content="1, 2,")]
    assert render_prompt(prefill) == "User: Count\nAssistant: 1, 2,"
    with pytest.raises(ConfigurationError, match="images"):
        render_prompt([Message(role="user", content=[ImagePart(url="https://x/a.png")])])


def test_request_body() -> None:
    r = ModelRequest(model="gpt-3.5-turbo-instruct", messages=CHAT, stop=["###"], max_tokens=20, seed=1)
    built = wire().build_request(r, stream=True)
    assert built.url == "http://127.0.0.1:8080/v1/completions"
    assert built.body is not None
    assert json.loads(built.body) == {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "You are terse.\nUser: Hi\nAssistant: Hello.\nUser: 2+2?\nAssistant:",
        "stop": ["###", "\nUser:"],
        "max_tokens": 20,
        "seed": 1,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with pytest.raises(ConfigurationError, match="tools"):
        wire().build_request(r.model_copy(update={"tools": [Tool(name="f")]}), stream=False)


def test_parse_and_stream() -> None:
    r = ModelRequest(model="m", messages=CHAT)
    response = ok(
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "model": "m",
            "choices": [{"text": " 4", "index": 0, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
        }
    )
    parsed = wire().parse_response(response, r)
    assert (parsed.text, parsed.message.role, parsed.finish_reason, parsed.usage.input_tokens) == (
        " 4",
        "assistant",
        "stop",
        20,
    )
    stream = sse(
        {"id": "cmpl-2", "model": "m", "choices": [{"text": " 4", "index": 0, "finish_reason": None}]},
        {"id": "cmpl-2", "model": "m", "choices": [{"text": "", "index": 0, "finish_reason": "length"}]},
        {"id": "cmpl-2", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 1}},
    )
    d = wire().stream_decoder(r)
    full = assemble(d.feed(stream) + d.close(), provider="local", model="m")
    assert (full.id, full.text, full.finish_reason, full.usage.output_tokens) == ("cmpl-2", " 4", "length", 1)
    d = wire().stream_decoder(r)
    d.feed(sse({"choices": [{"text": " 4", "index": 0}]}, done=False))
    with pytest.raises(StreamInterrupted):
        d.close()


def test_errors_map_like_chat() -> None:
    raw = json.dumps(
        {"error": {"message": "too long", "type": "invalid_request_error", "code": "context_length_exceeded"}}
    )
    assert isinstance(wire().map_error(400, {}, raw.encode(), "m"), ContextWindowExceeded)
