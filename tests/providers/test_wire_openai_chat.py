"""OpenAI chat wire format: request bodies, liberal response parsing, stream decoding."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steadyhand.errors import (
    ConfigurationError,
    Overloaded,
    PrefillNotSupported,
    RateLimited,
    ServerError,
    StreamInterrupted,
    UnexpectedProviderResponse,
)
from steadyhand.providers._common import assemble
from steadyhand.providers.base import Capabilities
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.types import (
    Chunk,
    ImagePart,
    Message,
    ModelRequest,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
)

from .wire_fixtures import CAPS, OPENAI_TEXT_STREAM, OPENAI_TOOL_STREAM, USAGE, chat_chunk, ok, sse


def wire(caps: Capabilities = CAPS, api_key: str | None = "sk-test") -> OpenAIChat:
    return OpenAIChat(
        base_url="https://api.openai.com/v1/", api_key=api_key, provider_name="openai", capabilities=caps
    )


def req(**kw: object) -> ModelRequest:
    kw.setdefault("messages", [Message(role="user", content="Hi")])
    return ModelRequest(model="gpt-4o-mini", **kw)


def body(w: OpenAIChat, r: ModelRequest, *, stream: bool = False) -> dict[str, object]:
    built = w.build_request(r, stream=stream)
    assert built.body is not None
    return json.loads(built.body)  # type: ignore[no-any-return]


def decode(w: OpenAIChat, data: bytes, r: ModelRequest | None = None) -> list[Chunk]:
    d = w.stream_decoder(r or req())
    return d.feed(data) + d.close()


def test_full_request_body() -> None:
    r = req(
        messages=[
            Message(role="system", content="Be brief."),
            Message(
                role="user",
                content=[TextPart(text="What is this?"), ImagePart(url="https://x/cat.png", detail="low")],
            ),
            Message(
                role="assistant", tool_calls=[ToolCall(id="call_1", name="lookup", arguments='{"q":"cat"}')]
            ),
            Message(role="tool", tool_call_id="call_1", content="a cat"),
        ],
        tools=[
            Tool(name="lookup", description="Look things up", parameters={"type": "object", "properties": {}})
        ],
        tool_choice="lookup",
        response_format=ResponseFormat(
            type="json_schema", json_schema={"type": "object"}, name="answer", strict=True
        ),
        stop=["END"],
        seed=7,
        n=2,
        temperature=0.2,
        top_p=0.9,
        max_tokens=50,
        extra={"user": "u-1"},
    )
    built = wire().build_request(r, stream=False)
    assert built.method == "POST"
    assert built.url == "https://api.openai.com/v1/chat/completions"
    assert built.headers == {"content-type": "application/json", "authorization": "Bearer sk-test"}
    assert body(wire(), r) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q":"cat"}'},
                    }
                ],
            },
            {"role": "tool", "content": "a cat", "tool_call_id": "call_1"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "parameters": {"type": "object", "properties": {}},
                    "description": "Look things up",
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
        },
        "stop": ["END"],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 50,
        "seed": 7,
        "n": 2,
        "user": "u-1",
    }


def test_stream_flags_and_no_key() -> None:
    w = wire(api_key=None)
    assert "authorization" not in w.build_request(req(), stream=True).headers
    assert body(w, req(), stream=True) == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    no_usage = wire(Capabilities(stream_usage=False))
    assert "stream_options" not in body(no_usage, req(), stream=True)
    assert body(wire(), req(tool_choice="required"))["tool_choice"] == "required"


SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}


@pytest.mark.parametrize(
    ("formats", "expected"),
    [
        (
            {"text", "json_object", "json_schema"},
            {"type": "json_schema", "json_schema": {"name": "response", "schema": SCHEMA}},
        ),
        ({"text", "json_object_schema"}, {"type": "json_object", "schema": SCHEMA}),
        ({"text", "json_object"}, {"type": "json_object"}),
        ({"text"}, None),
    ],
)
def test_response_format_shaped_to_capabilities(formats: set[str], expected: object) -> None:
    caps = Capabilities(response_formats=frozenset(formats))  # type: ignore[arg-type]
    sent = body(wire(caps), req(response_format=ResponseFormat(type="json_schema", json_schema=SCHEMA)))
    assert sent.get("response_format") == expected


def test_unsupported_fields_are_not_sent() -> None:
    caps = Capabilities(seed=False, n=False)
    sent = body(wire(caps), req(seed=1, n=3, response_format=ResponseFormat(type="text")))
    assert "seed" not in sent and "n" not in sent and "response_format" not in sent
    with pytest.raises(ConfigurationError, match="tools"):
        wire(Capabilities(tools=False)).build_request(req(tools=[Tool(name="f")]), stream=False)
    prefill = req(messages=[Message(role="user", content="Hi"), Message(role="assistant", content="{")])
    with pytest.raises(PrefillNotSupported):
        wire(Capabilities(assistant_prefill=False)).build_request(prefill, stream=False)
    assert body(wire(), prefill)["messages"][-1] == {"role": "assistant", "content": "{"}  # type: ignore[index]


def test_parse_openai_response() -> None:
    response = ok(
        {
            "id": "chatcmpl-123",
            "object": "chat.completion",
            "created": 1694268190,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello!", "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    )
    parsed = wire().parse_response(response, req())
    assert (parsed.id, parsed.model, parsed.provider, parsed.created) == (
        "chatcmpl-123",
        "gpt-4o-mini-2024-07-18",
        "openai",
        1694268190,
    )
    assert parsed.text == "Hello!" and parsed.finish_reason == "stop"
    u = parsed.usage
    assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.reasoning_tokens) == (9, 12, 4, 2)
    assert u.cache_write_tokens is None and u.raw == USAGE


def test_parse_llama_cpp_like_response() -> None:
    """No refusal, created, id, usage or logprobs; the model is named by a file path."""
    response = ok(
        {
            "object": "chat.completion",
            "model": "/models/SmolLM2-135M-Instruct-Q8_0.gguf",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "eos"}
            ],
        }
    )
    parsed = wire().parse_response(response, req())
    assert parsed.model == "/models/SmolLM2-135M-Instruct-Q8_0.gguf"
    assert parsed.id == "" and parsed.created is None
    assert parsed.text == "Hi there"
    assert parsed.finish_reason == "unknown" and parsed.choices[0].raw_finish_reason == "eos"
    assert (
        parsed.usage.input_tokens is None and parsed.usage.output_tokens is None and parsed.usage.raw is None
    )


@pytest.mark.parametrize(
    ("raw", "mapped"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
        ("weird", "unknown"),
    ],
)
def test_finish_reason_mapping(raw: str, mapped: str) -> None:
    response = ok({"choices": [{"message": {"role": "assistant", "content": "x"}, "finish_reason": raw}]})
    choice = wire().parse_response(response, req()).choices[0]
    assert (choice.finish_reason, choice.raw_finish_reason) == (mapped, raw)


def test_parse_tool_calls_and_refusal() -> None:
    response = ok(
        {
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": '{"x":1}'},
                            }
                        ],
                    },
                    "finish_reason": "tool_calls",
                },
            ]
        }
    )
    parsed = wire().parse_response(response, req())
    assert parsed.message.tool_calls == [ToolCall(id="c1", name="f", arguments='{"x":1}')]
    assert parsed.message.content is None and parsed.finish_reason == "tool_calls"
    refusal = ok(
        {
            "choices": [
                {
                    "message": {"role": "assistant", "content": None, "refusal": "I can't."},
                    "finish_reason": "stop",
                }
            ]
        }
    )
    refused = wire().parse_response(refusal, req())
    assert (refused.text, refused.finish_reason) == ("I can't.", "refusal")


def test_parse_errors() -> None:
    with pytest.raises(UnexpectedProviderResponse):
        wire().parse_response(ok(b"<html>oops</html>"), req())
    with pytest.raises(UnexpectedProviderResponse):
        wire().parse_response(ok({"object": "chat.completion"}), req())
    with pytest.raises(RateLimited) as info:
        wire().parse_response(
            ok(
                {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
                429,
                {"retry-after": "2"},
            ),
            req(),
        )
    assert info.value.retry_after == 2.0 and info.value.status_code == 429


def test_text_stream() -> None:
    chunks = decode(wire(), OPENAI_TEXT_STREAM)
    assert [c.text for c in chunks if c.text] == ["Hel", "lo!"]
    assert chunks[-1].usage is not None and chunks[-1].usage.input_tokens == 9
    full = assemble(chunks, provider="openai", model="gpt-4o-mini")
    assert (full.id, full.model, full.text, full.finish_reason) == (
        "chatcmpl-1",
        "gpt-4o-mini",
        "Hello!",
        "stop",
    )
    assert full.usage.cached_input_tokens == 4 and full.usage.raw == USAGE


def test_tool_stream_assembles_by_index() -> None:
    full = assemble(decode(wire(), OPENAI_TOOL_STREAM), provider="openai", model="m")
    assert full.message.tool_calls == [
        ToolCall(id="call_a", name="get_weather", arguments='{"city": "Paris"}'),
        ToolCall(id="call_b", name="now", arguments="{}"),
    ]
    assert full.message.content is None and full.finish_reason == "tool_calls"


def test_usage_chunk_with_nonempty_choices_and_no_done() -> None:
    odd = sse(
        chat_chunk({"content": "ok"}),
        chat_chunk({}, "stop"),
        chat_chunk({}, usage={"prompt_tokens": 3, "completion_tokens": 1}),
        done=False,
    )
    full = assemble(decode(wire(), odd), provider="openai", model="m")
    assert (full.text, full.finish_reason, full.usage.input_tokens, full.usage.output_tokens) == (
        "ok",
        "stop",
        3,
        1,
    )


def test_truncated_stream_raises_with_partial_text() -> None:
    cut = sse(chat_chunk({"content": "Once upon"}), chat_chunk({"content": " a time"}), done=False)
    with pytest.raises(StreamInterrupted) as info:
        decode(wire(), cut)
    assert info.value.partial_text == "Once upon a time"
    # [DONE] without any finish_reason is not a complete answer either
    with pytest.raises(StreamInterrupted):
        decode(wire(), sse(chat_chunk({"content": "x"})))
    # a final event cut mid-line is dropped, not misparsed
    with pytest.raises(StreamInterrupted):
        decode(wire(), sse(chat_chunk({"content": "x"}), done=False) + b'data: {"choices": [{"ind')


def test_in_band_errors() -> None:
    with pytest.raises(ServerError) as info:
        decode(
            wire(),
            sse(
                chat_chunk({"content": "x"}),
                {"error": {"message": "boom", "type": "server_error", "code": None}},
            ),
        )
    assert info.value.status_code == 500 and info.value.body == {
        "error": {"message": "boom", "type": "server_error", "code": None}
    }
    with pytest.raises(Overloaded):
        decode(
            wire(),
            sse({"error": {"message": "busy", "type": "server_error", "code": "server_is_overloaded"}}),
        )
    with pytest.raises(RateLimited):
        decode(wire(), sse({"error": {"message": "slow", "type": "tokens", "code": "rate_limit_exceeded"}}))


def test_malformed_event() -> None:
    with pytest.raises(UnexpectedProviderResponse, match="malformed"):
        decode(wire(), sse(chat_chunk({"content": "x"}), "{not json"))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_byte_split_gives_the_same_chunks(data: st.DataObject) -> None:
    stream = OPENAI_TOOL_STREAM.replace(b"\n", b"\r\n") if data.draw(st.booleans()) else OPENAI_TOOL_STREAM
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    d = wire().stream_decoder(req())
    chunks = [c for p in pieces for c in d.feed(p)] + d.close()
    assert chunks == decode(wire(), OPENAI_TOOL_STREAM)
